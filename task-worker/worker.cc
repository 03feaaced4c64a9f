#include "task-worker/worker.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "services/common/log.h"

namespace gaze::worker {
namespace {

// Runs one task at a time on a thread of its own, which lives as long as this object; the
// thread that owns the object starts tasks and collects their results.
class TaskThread {
 public:
  explicit TaskThread(TaskHandler& handler) : handler_(handler), thread_([this] { Loop(); }) {}
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;
  // Finishes the task in progress (its result is dropped), then joins the thread.
  ~TaskThread() {
    {
      absl::MutexLock lock(&mu_);
      quit_ = true;
    }
    thread_.join();
  }

  // Runs `delivery` through the handler. Only when idle: nothing started yet, or the result
  // of the task started last was collected by Wait().
  void Start(amqp::Delivery delivery) {
    absl::MutexLock lock(&mu_);
    input_ = std::move(delivery);
  }

  // Waits up to `timeout` for the task started last; its result once it has finished (the
  // thread is idle again then), nullopt while it runs.
  std::optional<HandleResult> Wait(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &TaskThread::HasResult), timeout);
    std::optional<HandleResult> result = std::move(output_);
    output_.reset();
    return result;
  }

 private:
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return quit_ || input_.has_value(); }
  bool HasResult() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return output_.has_value(); }

  void Loop() {
    for (;;) {
      amqp::Delivery delivery;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &TaskThread::HasWork));
        if (!input_.has_value()) return;
        delivery = *std::move(input_);
        input_.reset();
      }
      HandleResult result = handler_.Handle(delivery);
      absl::MutexLock lock(&mu_);
      output_ = std::move(result);
    }
  }

  TaskHandler& handler_;
  absl::Mutex mu_;
  std::optional<amqp::Delivery> input_ ABSL_GUARDED_BY(mu_);
  std::optional<HandleResult> output_ ABSL_GUARDED_BY(mu_);
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

// Everything below runs on the consumer thread, except the handler inside tasks_.
class Worker::Loop {
 public:
  explicit Loop(Worker& worker)
      : worker_(worker),
        options_(worker.options_),
        tasks_(worker.handler_),
        reconnect_(options_.reconnect_initial, options_.reconnect_max) {}

  void Run();

 private:
  using Clock = std::chrono::steady_clock;

  // The delivery on the task thread. `connection` numbers the consumer it came from: its
  // delivery tag is only good on that one.
  struct Running {
    uint64_t delivery_tag;
    uint64_t connection;
  };
  // A delivery whose task failed transiently: nacked with requeue once `due`.
  struct Requeue {
    uint64_t delivery_tag;
    std::string request_id;
    Clock::time_point due;
  };

  void Connect();
  // Waits up to `timeout` for a delivery and holds it; true if one came. Drops the consumer
  // when it fails.
  bool Receive(absl::Duration timeout);
  // Drops the consumer after `error`: RabbitMQ requeues all it delivered and we did not
  // settle, so the held deliveries and a pending requeue go with it.
  void Lose(std::string_view what, const absl::Status& error, const std::string& request_id = "");
  void Start();
  // Waits up to `timeout` for the running task and settles it once it has finished.
  void Collect(absl::Duration timeout);
  void Settle(uint64_t delivery_tag, Disposition disposition, const std::string& request_id);

  Worker& worker_;
  const WorkerOptions& options_;
  TaskThread tasks_;
  // Reset only once the consumer works (a Next() without error), so a broker that accepts
  // connections and then drops them cannot make this loop spin.
  Backoff reconnect_;
  std::unique_ptr<amqp::Consumer> consumer_;
  uint64_t connection_ = 0;  // numbers consumer_ among the consumers of this Run()
  bool ready_ = false;
  // Delivered by consumer_, not started yet, in delivery order.
  std::deque<amqp::Delivery> held_;
  std::optional<Running> running_;
  // Of consumer_; while set, no task is started.
  std::optional<Requeue> requeue_;
};

void Worker::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

bool Worker::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void Worker::Sleep(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
}

void Worker::Run() {
  Loop(*this).Run();
  log::Info("stopped consuming");
}

void Worker::Loop::Run() {
  for (;;) {
    const bool stopping = worker_.stopping();
    if (requeue_.has_value() && (stopping || Clock::now() >= requeue_->due)) {
      const Requeue requeue = *std::move(requeue_);
      requeue_.reset();
      Settle(requeue.delivery_tag, Disposition::kRequeue, requeue.request_id);
      continue;
    }
    if (stopping && !running_.has_value()) break;
    if (consumer_ == nullptr) {
      // Stopping with a task running and no connection: let the task finish; there is
      // nothing to settle it on, and no reason to reconnect.
      if (stopping) {
        Collect(options_.poll_interval);
      } else {
        Connect();
      }
      continue;
    }
    if (running_.has_value()) {
      // Take in whatever the broker sent, which also sends and checks heartbeats, without
      // blocking on the socket; then wait for the task.
      while (consumer_ != nullptr && Receive(absl::ZeroDuration())) {
      }
      if (consumer_ != nullptr) Collect(options_.poll_interval);
      continue;
    }
    // Not stopping here (stopping and idle broke out above).
    if (!requeue_.has_value() && !held_.empty()) {
      Start();
      continue;
    }
    absl::Duration timeout = options_.poll_interval;
    if (requeue_.has_value()) {
      timeout = std::min(timeout, absl::FromChrono(requeue_->due - Clock::now()));
    }
    Receive(timeout);
  }
  // Closing the connection returns the held deliveries to the queue.
  consumer_.reset();
  held_.clear();
}

void Worker::Loop::Connect() {
  absl::StatusOr<std::unique_ptr<amqp::Consumer>> connected = worker_.connect_();
  if (!connected.ok()) {
    const absl::Duration delay = reconnect_.Next();
    log::Warning("cannot consume from RabbitMQ; retrying")
        .Field("error", connected.status().ToString())
        .Field("retry_in_ms", absl::ToInt64Milliseconds(delay));
    worker_.Sleep(delay);
    return;
  }
  consumer_ = *std::move(connected);
  ++connection_;
  log::Info(ready_ ? "consuming again after reconnecting to RabbitMQ" : "ready");
  ready_ = true;
}

bool Worker::Loop::Receive(absl::Duration timeout) {
  absl::StatusOr<std::optional<amqp::Delivery>> next = consumer_->Next(timeout);
  if (!next.ok()) {
    Lose("lost the RabbitMQ consumer; reconnecting", next.status());
    return false;
  }
  reconnect_.Reset();
  if (!next->has_value()) return false;
  held_.push_back(**std::move(next));
  return true;
}

void Worker::Loop::Lose(std::string_view what, const absl::Status& error,
                        const std::string& request_id) {
  // Dropping the consumer closes its connection (if still open), so RabbitMQ requeues
  // whatever it delivered here that was not settled.
  consumer_.reset();
  held_.clear();
  requeue_.reset();
  const absl::Duration delay = reconnect_.Next();
  log::Line line = log::Warning(what);
  if (!request_id.empty()) line.RequestId(request_id);
  line.Field("error", error.ToString())
      .Field("task_running", running_.has_value())
      .Field("retry_in_ms", absl::ToInt64Milliseconds(delay));
  worker_.Sleep(delay);
}

void Worker::Loop::Start() {
  amqp::Delivery delivery = std::move(held_.front());
  held_.pop_front();
  running_ = Running{delivery.delivery_tag, connection_};
  tasks_.Start(std::move(delivery));
}

void Worker::Loop::Collect(absl::Duration timeout) {
  std::optional<HandleResult> result = tasks_.Wait(timeout);
  if (!result.has_value()) return;
  const Running done = *running_;
  running_.reset();
  absl::Duration delay;
  if (result->disposition == Disposition::kRequeue) {
    delay = worker_.retry_.Next();
  } else {
    worker_.retry_.Reset();
  }
  if (consumer_ == nullptr || done.connection != connection_) {
    log::Info("the task's message came on a connection that is gone; RabbitMQ redelivers it")
        .RequestId(result->request_id)
        .Field("delivery_tag", done.delivery_tag);
    return;
  }
  if (result->disposition == Disposition::kRequeue) {
    log::Info("requeueing the message after a back-off")
        .RequestId(result->request_id)
        .Field("delivery_tag", done.delivery_tag)
        .Field("delay_ms", absl::ToInt64Milliseconds(delay));
    requeue_ = Requeue{done.delivery_tag, std::move(result->request_id),
                       Clock::now() + absl::ToChronoNanoseconds(delay)};
    return;
  }
  Settle(done.delivery_tag, result->disposition, result->request_id);
}

void Worker::Loop::Settle(uint64_t delivery_tag, Disposition disposition,
                          const std::string& request_id) {
  const absl::Status settled =
      disposition == Disposition::kAck
          ? consumer_->Ack(delivery_tag)
          : consumer_->Nack(delivery_tag, /*requeue=*/disposition == Disposition::kRequeue);
  if (!settled.ok()) {
    // RabbitMQ gives an unsettled delivery to a consumer again once this connection is gone;
    // the redelivery finds the task finished if the work was done.
    Lose("cannot settle the delivery; reconnecting", settled, request_id);
  }
}

}  // namespace gaze::worker
