// The consume loop of task-worker: takes deliveries from RabbitMQ one at a time, hands each to
// the TaskHandler and settles it (ack, requeue after a back-off, or dead-letter), and keeps
// going when RabbitMQ goes away by reconnecting with back-off. Stop() ends it gracefully: the
// delivery in progress is finished and settled, then the connection is closed, which returns
// the unacknowledged prefetched deliveries to the queue.
#pragma once

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/amqp/amqp.h"
#include "task-worker/backoff.h"
#include "task-worker/task_handler.h"

namespace gaze::worker {

struct WorkerOptions {
  // How long Run() waits for a delivery before looking at Stop() again.
  absl::Duration poll_interval = absl::Milliseconds(500);
  // Back-off between failed connection attempts to RabbitMQ.
  absl::Duration reconnect_initial = absl::Milliseconds(200);
  absl::Duration reconnect_max = absl::Seconds(10);
  // Back-off before requeueing after a transient task failure; it grows while failures follow
  // each other and starts over after a success. Capped well below the consumer's heartbeat
  // window (amqp.cc), because nothing services the connection while the worker waits here.
  absl::Duration retry_initial = absl::Milliseconds(200);
  absl::Duration retry_max = absl::Seconds(10);
};

// Opens a consumer on the task queue.
using ConsumerFactory = std::function<absl::StatusOr<std::unique_ptr<amqp::Consumer>>()>;

class Worker {
 public:
  Worker(WorkerOptions options, ConsumerFactory connect, TaskHandler& handler)
      : options_(options),
        connect_(std::move(connect)),
        handler_(handler),
        retry_(options.retry_initial, options.retry_max) {}

  // Consumes until Stop(). Logs "ready" the first time it is consuming.
  void Run();
  // Makes Run() return once the current delivery is settled. Thread-safe; may be called more
  // than once and before Run().
  void Stop();

 private:
  // Runs and settles one delivery; false when the consumer is no longer usable.
  bool Process(amqp::Consumer& consumer, const amqp::Delivery& delivery);
  // Sleeps for `delay` or until Stop(), whichever comes first.
  void Sleep(absl::Duration delay);
  bool stopping() const;

  const WorkerOptions options_;
  ConsumerFactory connect_;
  TaskHandler& handler_;
  // Shared by all deliveries: consecutive transient failures (metadata-svc down, say) slow the
  // whole worker down, and any message that is settled otherwise resets it. Run() only.
  Backoff retry_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gaze::worker
