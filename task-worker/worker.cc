#include "task-worker/worker.h"

#include "services/common/log.h"

namespace gaze::worker {

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
  // Reset only once the consumer works (a Next() without error), so a broker that accepts
  // connections and then drops them cannot make this loop spin.
  Backoff reconnect(options_.reconnect_initial, options_.reconnect_max);
  std::unique_ptr<amqp::Consumer> consumer;
  bool ready = false;
  while (!stopping()) {
    if (consumer == nullptr) {
      absl::StatusOr<std::unique_ptr<amqp::Consumer>> connected = connect_();
      if (!connected.ok()) {
        const absl::Duration delay = reconnect.Next();
        log::Warning("cannot consume from RabbitMQ; retrying")
            .Field("error", connected.status().ToString())
            .Field("retry_in_ms", absl::ToInt64Milliseconds(delay));
        Sleep(delay);
        continue;
      }
      consumer = *std::move(connected);
      log::Info(ready ? "consuming again after reconnecting to RabbitMQ" : "ready");
      ready = true;
    }
    absl::StatusOr<std::optional<amqp::Delivery>> next = consumer->Next(options_.poll_interval);
    if (!next.ok()) {
      // Dropping the consumer closes its connection (if still open), so RabbitMQ requeues
      // whatever it delivered here that was not settled.
      consumer.reset();
      const absl::Duration delay = reconnect.Next();
      log::Warning("lost the RabbitMQ consumer; reconnecting")
          .Field("error", next.status().ToString())
          .Field("retry_in_ms", absl::ToInt64Milliseconds(delay));
      Sleep(delay);
      continue;
    }
    reconnect.Reset();
    if (next->has_value() && !Process(*consumer, **next)) consumer.reset();
  }
  consumer.reset();
  log::Info("stopped consuming");
}

bool Worker::Process(amqp::Consumer& consumer, const amqp::Delivery& delivery) {
  const HandleResult result = handler_.Handle(delivery);
  absl::Status settled;
  switch (result.disposition) {
    case Disposition::kAck:
      retry_.Reset();
      settled = consumer.Ack(delivery.delivery_tag);
      break;
    case Disposition::kDeadLetter:
      retry_.Reset();
      settled = consumer.Nack(delivery.delivery_tag, /*requeue=*/false);
      break;
    case Disposition::kRequeue: {
      const absl::Duration delay = retry_.Next();
      log::Info("requeueing the message after a back-off")
          .RequestId(result.request_id)
          .Field("delivery_tag", delivery.delivery_tag)
          .Field("delay_ms", absl::ToInt64Milliseconds(delay));
      Sleep(delay);
      settled = consumer.Nack(delivery.delivery_tag, /*requeue=*/true);
      break;
    }
  }
  if (!settled.ok()) {
    // RabbitMQ gives an unsettled delivery to a consumer again once this connection is gone;
    // the redelivery finds the task finished if the work was done.
    log::Warning("cannot settle the delivery; reconnecting")
        .RequestId(result.request_id)
        .Field("delivery_tag", delivery.delivery_tag)
        .Field("error", settled.ToString());
    return false;
  }
  return true;
}

}  // namespace gaze::worker
