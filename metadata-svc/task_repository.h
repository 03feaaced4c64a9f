// TaskRepository: claiming, renewing and finishing the tasks that workers receive over
// RabbitMQ, showing them to the tasks API, and re-driving the tasks whose message was lost on
// the way (see task_redriver.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

// How long tasks may take and stay.
struct TaskPolicy {
  // A task that does not delete data is failed once it has been claimed this often without
  // finishing (a poison message: its worker crashes, or it keeps failing transiently). Deletes
  // are retried for as long as it takes: giving one up would leak the data.
  int max_attempts = 5;
  // How long a finished task stays listed (Glance's task_time_to_live).
  absl::Duration time_to_live = absl::Hours(48);
};

// What a call that ended a task did (CompleteTask, FinishImport, a claim or re-drive that
// gave a task up).
struct TaskOutcome {
  v1::TaskStatus status = v1::TASK_STATUS_UNSPECIFIED;
  std::string image_id;
  // The image's status afterwards when the call changed it, else UNSPECIFIED.
  v1::ImageStatus image_status = v1::IMAGE_STATUS_UNSPECIFIED;
  // The delete_data task the call queued ("" when none).
  std::string cleanup_task_id;
  // FinishImport only: the outcome had already been recorded by an identical earlier call.
  bool replay = false;
};

// What ClaimTask did.
struct ClaimResult {
  v1::ClaimTaskResponse response;
  // Set when this claim gave the task up instead (it had reached the attempt limit); the
  // response then says FINISHED with the failed task.
  std::optional<TaskOutcome> gave_up;
};

// An unfinished task that RedriveStaleTasks queued for publishing again, or gave up.
struct RedrivenTask {
  std::string task_id;
  std::string type;
  std::string image_id;     // "" for a task without an image
  std::string request_id;   // of the API call that caused the task
  std::string status;       // "pending", or "processing" under an expired lease
  std::string lease_owner;  // the worker whose lease expired ("" when pending)
  int attempts = 0;
  // Set when the task had reached the attempt limit and was failed instead of re-driven.
  std::optional<TaskOutcome> gave_up;
};

class TaskRepository {
 public:
  virtual ~TaskRepository() = default;

  // CLAIMED (leased to this worker now, also when it was processing under an expired lease),
  // FINISHED, or LEASED_ELSEWHERE; NOT_FOUND. A task at the attempt limit is failed instead
  // (and an import's image returns to QUEUED), answering FINISHED.
  virtual absl::StatusOr<ClaimResult> ClaimTask(const v1::ClaimTaskRequest& request) = 0;
  // FAILED_PRECONDITION unless the task is processing under this worker's lease. Succeeding
  // with the DELETE_DATA task of a PENDING_DELETE image makes the image DELETED. An IMPORT task
  // must end with FinishImport; its failure is accepted here too (as FinishImport's).
  virtual absl::StatusOr<TaskOutcome> CompleteTask(const v1::CompleteTaskRequest& request) = 0;
  // FAILED_PRECONDITION unless the task is processing under this worker's lease.
  virtual absl::Status RenewTask(const v1::RenewTaskRequest& request) = 0;
  // See metadata.proto.
  virtual absl::StatusOr<TaskOutcome> FinishImport(const v1::FinishImportRequest& request) = 0;

  virtual absl::StatusOr<v1::ListTasksResponse> ListTasks(const v1::ListTasksRequest& request) = 0;
  virtual absl::StatusOr<v1::Task> GetTask(const v1::GetTaskRequest& request) = 0;

  // Queues a new outbox row, in one transaction, for up to `limit` unfinished tasks that have
  // not changed for `redrive_after` and have no outbox row waiting: pending ones, and
  // processing ones whose lease expired. Each is then left alone for another `redrive_after`.
  // Such a task that has reached the attempt limit is failed instead. Safe to run from any
  // number of replicas at once (tasks another one holds are skipped).
  virtual absl::StatusOr<std::vector<RedrivenTask>> RedriveStaleTasks(
      int limit, absl::Duration redrive_after) = 0;
};

}  // namespace gaze::metadata
