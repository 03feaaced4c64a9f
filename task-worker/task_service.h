// The task-worker's port to metadata-svc's TaskService (see protos/gaze/metadata/v1/
// metadata.proto for ClaimTask, CompleteTask, RenewTask and FinishImport). The gRPC adapter is
// grpc_task_service.h; tests use a fake. Every call carries the request id that caused the
// task, so one request can be followed through the logs of all services. Implementations are
// thread-safe: a task's lease is renewed from a thread of its own while the task runs.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gaze::metadata::v1 {
class ClaimTaskRequest;
class ClaimTaskResponse;
class CompleteTaskRequest;
class FinishImportRequest;
class FinishImportResponse;
class RenewTaskRequest;
}  // namespace gaze::metadata::v1

namespace gaze::worker {

class TaskService {
 public:
  virtual ~TaskService() = default;
  virtual absl::StatusOr<metadata::v1::ClaimTaskResponse> ClaimTask(
      const metadata::v1::ClaimTaskRequest& request, const std::string& request_id) = 0;
  virtual absl::Status CompleteTask(const metadata::v1::CompleteTaskRequest& request,
                                    const std::string& request_id) = 0;
  virtual absl::Status RenewTask(const metadata::v1::RenewTaskRequest& request,
                                 const std::string& request_id) = 0;
  virtual absl::StatusOr<metadata::v1::FinishImportResponse> FinishImport(
      const metadata::v1::FinishImportRequest& request, const std::string& request_id) = 0;
};

}  // namespace gaze::worker
