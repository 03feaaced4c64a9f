// The task re-drive: a background thread that, every interval, publishes again the unfinished
// tasks whose message RabbitMQ no longer holds.
//
// The relay publishes each task once, and task-worker acks a message without effect when the
// task is finished or leased elsewhere, so a message can be gone while its task is not done:
// dead-lettered after the queue's delivery limit (metadata-svc was down and the worker kept
// requeueing), or acked as a duplicate while another worker held a lease and that worker then
// died or gave up. Such a task would stay pending, or processing under an expired lease,
// forever. The re-drive finds those that have not changed for `redrive_after` and have no
// outbox row waiting, and queues an outbox row for each (TaskRepository::RedriveStaleTasks),
// which the relay publishes like a new task; ClaimTask hands a task whose lease expired to
// the next worker. A task that has been claimed TaskPolicy::max_attempts times is failed
// instead (a poison message), and an import's image returned to queued. A healthy task may be
// re-driven too (its message is merely queued behind many others); the worker then acks the
// duplicate, which is the price of never losing one.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "metadata-svc/periodic_thread.h"
#include "metadata-svc/task_repository.h"

namespace gaze::metadata {

class TaskRedriver {
 public:
  // Tasks re-driven per round. Deliberately one batch per interval, even a full one: a deep
  // but healthy queue also looks stale, and re-publishing all of it at once would double it.
  // One replica still re-drives 36,000 tasks an hour at the default interval.
  static constexpr int kBatch = 100;

  struct Options {
    absl::Duration interval = absl::Seconds(10);
    absl::Duration redrive_after = absl::Seconds(60);
  };

  TaskRedriver(TaskRepository& repository, Options options);

  // The first round runs at once, then one every interval.
  void Start() { thread_.Start(); }
  void Stop() { thread_.Stop(); }

  // One round: re-drives up to kBatch tasks, logs each, and returns how many. The thread calls
  // it; tests call it directly (without Start()).
  absl::StatusOr<int> RedriveOnce();

 private:
  TaskRepository& repository_;
  const Options options_;
  PeriodicThread thread_;  // last: stopped before the members its rounds use
};

}  // namespace gaze::metadata
