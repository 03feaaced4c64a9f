// TaskRedriver (see task_redriver.h).
#include "metadata-svc/task_redriver.h"

#include "services/common/log.h"

namespace gaze::metadata {

TaskRedriver::TaskRedriver(TaskRepository& repository, Options options)
    : repository_(repository), options_(options) {}

TaskRedriver::~TaskRedriver() { Stop(); }

void TaskRedriver::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void TaskRedriver::Stop() {
  stop_.Stop();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int> TaskRedriver::RedriveOnce() {
  auto redriven = repository_.RedriveStaleTasks(kBatch, options_.redrive_after);
  if (!redriven.ok()) return redriven.status();
  // A warning: each one means a message was lost, a worker died, or the queue is so deep that
  // tasks wait longer than redrive_after.
  for (const RedrivenTask& t : *redriven) {
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

void TaskRedriver::Loop() {
  while (!stop_.stopped()) {
    if (absl::StatusOr<int> n = RedriveOnce(); !n.ok()) {
      log::Warning("task re-drive failed").Field("error", n.status().ToString());
    }
    stop_.WaitFor(options_.interval);
  }
}

}  // namespace gaze::metadata
