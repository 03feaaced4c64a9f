// The consume loop of task-worker: takes deliveries from RabbitMQ one at a time, hands each to
// the TaskHandler and settles it (ack, requeue after a back-off, or dead-letter), and keeps
// going when RabbitMQ goes away by reconnecting with back-off.
//
// Threads. Run() is the consumer thread: it makes every call on the amqp::Consumer (rabbitmq-c
// is not thread-safe), and it never blocks for longer than poll_interval, so the connection's
// heartbeats are sent and checked however long a task runs. The task itself (an import can
// take many minutes) runs on one task thread, which lives as long as Run(). Deliveries that
// arrive meanwhile (prefetched anyway) are held in order and started one after another, each
// once the previous one is settled. The requeue back-off waits on the consumer thread too,
// servicing the connection, and starts no other task meanwhile.
//
// Lost connection. The consumer is dropped at once (RabbitMQ requeues all it had delivered,
// including the held deliveries and the running one) and the worker reconnects while the task
// keeps running. Its delivery tag died with the connection, so the task is not settled: the
// redelivery finds it finished or leased (task_handler.h) and is acked then.
//
// Stop() ends Run() gracefully: no further task is started, the running one is finished and
// settled (a pending requeue is settled at once), then the connection is closed, which returns
// the held deliveries to the queue.
//
// RabbitMQ's consumer_timeout (30 min by default in 3.10) applies to every unacked delivery,
// the held ones included: a channel that keeps one longer is closed by the broker. That is a
// lost connection as above, so it costs a redelivery, not a result; deployments whose tasks
// (times the prefetch) can take that long should raise consumer_timeout on the broker.
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
  // The longest the consumer thread waits (for a delivery, for the running task, for the end
  // of a back-off) before it services the connection and looks at Stop() again. Must stay
  // well below the consumer's heartbeat interval (ConnectionOptions).
  absl::Duration poll_interval = absl::Milliseconds(500);
  // Back-off between failed connection attempts to RabbitMQ.
  absl::Duration reconnect_initial = absl::Milliseconds(200);
  absl::Duration reconnect_max = absl::Seconds(10);
  // Back-off before requeueing after a transient task failure; it grows while failures follow
  // each other and starts over after a success. The connection is serviced meanwhile.
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

  // Consumes until Stop(). Logs "ready" the first time it is consuming. Returns once the
  // running task (if any) has finished.
  void Run();
  // Makes Run() return once the running task is finished and settled. Thread-safe; may be
  // called more than once and before Run().
  void Stop();

 private:
  // The state of one Run() (worker.cc).
  class Loop;

  // Sleeps for `delay` or until Stop(), whichever comes first.
  void Sleep(absl::Duration delay);
  bool stopping() const;

  const WorkerOptions options_;
  ConsumerFactory connect_;
  TaskHandler& handler_;
  // Shared by all deliveries: consecutive transient failures (metadata-svc down, say) slow the
  // whole worker down, and any message that is settled otherwise resets it. Consumer thread.
  Backoff retry_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gaze::worker
