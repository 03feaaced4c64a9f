// The gRPC adapters of metadata-svc: ImageService and TaskService over the repositories.
// They read the request id from the call metadata, log every failure and state change with
// it, and map absl::Status to grpc::Status (services/rpc/status.h).
#pragma once

#include <memory>

#include "metadata-svc/image_repository.h"
#include "metadata-svc/task_repository.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace gaze::metadata {

// The repositories must outlive the services.
std::unique_ptr<grpc::Service> NewImageService(ImageRepository& images);
std::unique_ptr<grpc::Service> NewTaskService(TaskRepository& tasks);

}  // namespace gaze::metadata
