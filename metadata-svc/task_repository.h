// TaskRepository: claiming and finishing the tasks that workers receive over RabbitMQ, and
// re-driving the tasks whose message was lost on the way (see task_redriver.h).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

// An unfinished task that RedriveStaleTasks queued for publishing again.
struct RedrivenTask {
  std::string task_id;
  std::string type;
  std::string image_id;     // "" for a task without an image
  std::string request_id;   // of the API call that caused the task
  std::string status;       // "pending", or "processing" under an expired lease
  std::string lease_owner;  // the worker whose lease expired ("" when pending)
  int attempts = 0;
};

class TaskRepository {
 public:
  virtual ~TaskRepository() = default;

  // CLAIMED (leased to this worker now, also when it was processing under an expired lease),
  // FINISHED, or LEASED_ELSEWHERE; NOT_FOUND.
  virtual absl::StatusOr<v1::ClaimTaskResponse> ClaimTask(const v1::ClaimTaskRequest& request) = 0;
  // FAILED_PRECONDITION unless the task is processing under this worker's lease.
  virtual absl::StatusOr<v1::TaskStatus> CompleteTask(const v1::CompleteTaskRequest& request) = 0;

  // Queues a new outbox row, in one transaction, for up to `limit` unfinished tasks that have
  // not changed for `redrive_after` and have no outbox row waiting: pending ones, and
  // processing ones whose lease expired. Each is then left alone for another `redrive_after`.
  // Safe to run from any number of replicas at once (tasks another one holds are skipped).
  virtual absl::StatusOr<std::vector<RedrivenTask>> RedriveStaleTasks(
      int limit, absl::Duration redrive_after) = 0;
};

}  // namespace gaze::metadata
