// TaskRedriver (see task_redriver.h).
#include "metadata-svc/task_redriver.h"

#include "metadata-svc/enums.h"
#include "services/common/log.h"

namespace gaze::metadata {

TaskRedriver::TaskRedriver(TaskRepository& repository, Options options)
    : repository_(repository),
      options_(options),
      // Deliberately one batch per interval, even a full one (see kBatch).
      thread_(options.interval, [this] {
        if (absl::StatusOr<int> n = RedriveOnce(); !n.ok()) {
          log::Warning("task re-drive failed").Field("error", n.status().ToString());
        }
        return false;
      }) {}

absl::StatusOr<int> TaskRedriver::RedriveOnce() {
  auto redriven = repository_.RedriveStaleTasks(kBatch, options_.redrive_after);
  if (!redriven.ok()) return redriven.status();
  // A warning: each one means a message was lost, a worker died, or the queue is so deep that
  // tasks wait longer than redrive_after.
  for (const RedrivenTask& t : *redriven) {
    if (t.gave_up) {
      const char* image_status = ImageStatusName(t.gave_up->image_status);
      log::Error("task failed after too many attempts")
          .RequestId(t.request_id)
          .Field("task_id", t.task_id)
          .Field("image_id", t.image_id)
          .Field("type", t.type)
          .Field("lease_owner", t.lease_owner)
          .Field("attempts", t.attempts)
          .Field("image_status", image_status != nullptr ? image_status : "")
          .Field("cleanup_task_id", t.gave_up->cleanup_task_id);
      continue;
    }
    log::Warning("task re-driven")
        .RequestId(t.request_id)
        .Field("task_id", t.task_id)
        .Field("image_id", t.image_id)
        .Field("type", t.type)
        .Field("status", t.status)
        .Field("lease_owner", t.lease_owner)
        .Field("attempts", t.attempts);
  }
  return static_cast<int>(redriven->size());
}

}  // namespace gaze::metadata
