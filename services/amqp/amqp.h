// RabbitMQ client for Gaze's task queues (rabbitmq-c 0.11 underneath, hidden from callers).
//
// Topology, declared idempotently by every publisher and consumer on connect:
//   queue  <queue>          durable quorum queue, x-delivery-limit = options.delivery_limit,
//                           dead-lettered to exchange "<queue>.dlx"
//   exchange <queue>.dlx    durable direct exchange
//   queue  <queue>.dead     durable quorum queue bound to <queue>.dlx with routing key <queue>
// Messages are published to the default exchange with routing key <queue>, persistent and
// mandatory, with publisher confirms.
//
// Neither class is thread-safe: use one per thread. After any error other than a timeout the
// object is broken; drop it and Connect() again (callers own the retry/back-off policy).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gaze::amqp {

struct ConnectionOptions {
  // amqp://user:password@host:port/vhost  (vhost "/" when the path is empty or "/")
  std::string url;
  std::string queue = "gaze.tasks";
  // Deliveries of one message before it is dead-lettered.
  int delivery_limit = 20;
  absl::Duration connect_timeout = absl::Seconds(5);
  // The heartbeat interval a Consumer asks for, in seconds (0: none; the broker may lower it).
  // Heartbeats are only sent and checked inside Next(), so its caller must call it more often
  // than that. The broker drops a consumer that stays silent for two intervals. Publishers
  // run without heartbeats (amqp.cc).
  int consumer_heartbeat_seconds = 30;
  // Shown in the RabbitMQ management UI / logs.
  std::string connection_name;
};

struct Message {
  std::string body;
  std::string message_id;      // the task id: lets consumers de-duplicate
  std::string correlation_id;  // the request id that caused it
  std::string type;            // e.g. "delete_data"
};

struct Delivery {
  uint64_t delivery_tag = 0;
  bool redelivered = false;
  std::string body;
  std::string message_id;
  std::string correlation_id;
  std::string type;
};

class Publisher {
 public:
  static absl::StatusOr<std::unique_ptr<Publisher>> Connect(const ConnectionOptions& options);
  virtual ~Publisher() = default;
  // Publishes every message and waits until the broker has confirmed all of them (persisted
  // to the queue). OK only if each one was acked; a nack, a basic.return (unroutable) or the
  // timeout gives an error, and the caller must assume none of the batch was delivered.
  virtual absl::Status PublishConfirmed(const std::vector<Message>& messages,
                                        absl::Duration timeout) = 0;
};

class Consumer {
 public:
  // Starts consuming <queue> with manual acknowledgements and the given prefetch.
  static absl::StatusOr<std::unique_ptr<Consumer>> Connect(const ConnectionOptions& options,
                                                           int prefetch);
  virtual ~Consumer() = default;
  // Waits up to `timeout` for the next delivery; nullopt when none arrived in time.
  virtual absl::StatusOr<std::optional<Delivery>> Next(absl::Duration timeout) = 0;
  virtual absl::Status Ack(uint64_t delivery_tag) = 0;
  // requeue=false dead-letters the message.
  virtual absl::Status Nack(uint64_t delivery_tag, bool requeue) = 0;
};

}  // namespace gaze::amqp
