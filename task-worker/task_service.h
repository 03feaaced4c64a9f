// The task-worker's port to metadata-svc's TaskService (see protos/gaze/metadata/v1/
// metadata.proto for ClaimTask and CompleteTask). The gRPC adapter is grpc_task_service.h;
// tests use a fake. Every call carries the request id that caused the task, so one request can
// be followed through the logs of all services.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gaze::metadata::v1 {
class ClaimTaskRequest;
class ClaimTaskResponse;
class CompleteTaskRequest;
}  // namespace gaze::metadata::v1

namespace gaze::worker {

class TaskService {
 public:
  virtual ~TaskService() = default;
  virtual absl::StatusOr<metadata::v1::ClaimTaskResponse> ClaimTask(
      const metadata::v1::ClaimTaskRequest& request, const std::string& request_id) = 0;
  virtual absl::Status CompleteTask(const metadata::v1::CompleteTaskRequest& request,
                                    const std::string& request_id) = 0;
};

}  // namespace gaze::worker
