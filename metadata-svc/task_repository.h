// TaskRepository: claiming and finishing the tasks that workers receive over RabbitMQ.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

class TaskRepository {
 public:
  virtual ~TaskRepository() = default;

  // CLAIMED (leased to this worker now), FINISHED, or LEASED_ELSEWHERE; NOT_FOUND.
  virtual absl::StatusOr<v1::ClaimTaskResponse> ClaimTask(const v1::ClaimTaskRequest& request) = 0;
  // FAILED_PRECONDITION unless the task is processing under this worker's lease.
  virtual absl::StatusOr<v1::TaskStatus> CompleteTask(const v1::CompleteTaskRequest& request) = 0;
};

}  // namespace gaze::metadata
