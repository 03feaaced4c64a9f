// The outbox relay: moves task messages from the PostgreSQL outbox table to RabbitMQ.
//
// A background thread with its own connection (LISTEN gaze_outbox) repeatedly, in one
// transaction, locks the oldest outbox rows that are due (not_before passed; a delayed delete
// holds its row back; FOR UPDATE SKIP LOCKED, so replicas relay disjoint rows), publishes them
// with publisher confirms and deletes them only once the broker confirmed every message. A
// held row becomes due silently: the idle wait bounds how late it is published. A failure rolls
// back and the rows stay: delivery is at least once, and a crash at any point at worst publishes a
// message twice (consumers de-duplicate by task id). Between rounds it sleeps until a NOTIFY or one
// idle interval passes. Once confirmed, a message is RabbitMQ's to deliver; when it is lost there
// (dead-lettered, or acked as a duplicate while the task was leased elsewhere) TaskRedriver queues
// a new outbox row.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/amqp/amqp.h"

namespace gaze::metadata {

class OutboxRelay {
 public:
  // Opens a publisher; called again after any publish failure.
  using PublisherFactory = std::function<absl::StatusOr<std::unique_ptr<amqp::Publisher>>()>;

  struct Options {
    std::string dsn;
    int batch = 100;
    absl::Duration idle_wait = absl::Seconds(1);
    absl::Duration publish_timeout = absl::Seconds(10);
    absl::Duration min_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(5);
  };

  OutboxRelay(Options options, PublisherFactory publisher_factory);
  ~OutboxRelay();  // Stop()s
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void Start();
  void Stop();

  // One round: publishes up to `batch` outbox rows and deletes them; returns how many. The
  // relay thread calls it in a loop; tests call it directly (without Start()).
  absl::StatusOr<int> RelayOnce();

  // $1 batch -> id, task_id, type, request_id of the oldest due rows no other relay holds. Read
  // in the order of outbox_not_before_idx (not_before, id): the scan stops at the first row
  // that is not due, so rows held back for a delayed delete cost nothing however many wait.
  static constexpr char kLockBatchSql[] =
      "SELECT id, task_id::text, type, request_id FROM outbox WHERE not_before <= now() "
      "ORDER BY not_before, id LIMIT $1 FOR UPDATE SKIP LOCKED";

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gaze::metadata
