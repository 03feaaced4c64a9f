// OutboxRelay (see outbox_relay.h).
#include "metadata-svc/outbox_relay.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gaze/tasks/v1/task_message.pb.h"
#include "metadata-svc/enums.h"
#include "metadata-svc/pg_errors.h"
#include "metadata-svc/sql_params.h"
#include "metadata-svc/stop_signal.h"
#include "services/common/log.h"

namespace gaze::metadata {
namespace {

constexpr char kChannel[] = "gaze_outbox";
constexpr char kLockBatch[] = "outbox_lock_batch";
// $1 ids bigint[]
constexpr char kDeleteRows[] = "outbox_delete_rows";
constexpr char kDeleteRowsSql[] = "DELETE FROM outbox WHERE id = ANY($1::bigint[])";

// Remembers that a NOTIFY arrived; libpqxx may deliver it during any call on the connection.
class Listener final : public pqxx::notification_receiver {
 public:
  Listener(pqxx::connection_base& conn, bool* notified)
      : pqxx::notification_receiver(conn, kChannel), notified_(notified) {}
  void operator()(const std::string&, int) override { *notified_ = true; }

 private:
  bool* notified_;
};

}  // namespace

struct OutboxRelay::Impl {
  Options options;
  PublisherFactory factory;
  StopSignal stop;
  std::thread thread;
  // Owned by the relay thread (or by a test calling RelayOnce without Start()).
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<Listener> listener;  // destroyed before conn
  std::unique_ptr<amqp::Publisher> publisher;
  bool notified = false;

  void DropConnection() {
    listener.reset();
    conn.reset();
  }

  void Connect() {
    conn = std::make_unique<pqxx::connection>(options.dsn);
    conn->prepare(kLockBatch, OutboxRelay::kLockBatchSql);
    conn->prepare(kDeleteRows, kDeleteRowsSql);
    listener = std::make_unique<Listener>(*conn, &notified);
  }

  absl::StatusOr<int> RelayOnce() {
    try {
      if (conn == nullptr) Connect();
      notified = false;
      pqxx::work tx(*conn);
      pqxx::result rows = tx.exec_prepared(kLockBatch, options.batch);
      if (rows.empty()) {
        tx.commit();
        return 0;
      }
      std::vector<amqp::Message> messages;
      std::vector<std::string> ids;
      for (const pqxx::row& row : rows) {
        ids.push_back(row[0].as<std::string>());
        gaze::tasks::v1::TaskMessage body;
        body.set_task_id(row[1].as<std::string>());
        body.set_type(ParseTaskType(row[2].as<std::string>()));
        body.set_request_id(row[3].as<std::string>());
        amqp::Message& m = messages.emplace_back();
        m.body = body.SerializeAsString();
        m.message_id = body.task_id();
        m.correlation_id = body.request_id();
        m.type = row[2].as<std::string>();
      }
      if (publisher == nullptr) {
        auto opened = factory();
        if (!opened.ok()) {
          return absl::Status(opened.status().code(),
                              absl::StrCat("connecting to RabbitMQ: ", opened.status().message()));
        }
        publisher = std::move(*opened);
      }
      if (absl::Status s = publisher->PublishConfirmed(messages, options.publish_timeout);
          !s.ok()) {
        publisher.reset();  // broken after any error (amqp.h); rows stay for the next round
        return absl::Status(s.code(), absl::StrCat("publishing: ", s.message()));
      }
      tx.exec_prepared0(kDeleteRows, PgArrayLiteral(ids));
      tx.commit();
      for (const amqp::Message& m : messages) {
        log::Info("task published")
            .RequestId(m.correlation_id)
            .Field("task_id", m.message_id)
            .Field("type", m.type);
      }
      return static_cast<int>(messages.size());
    } catch (const std::exception& e) {
      DbFailure failure = ClassifyDbException(e);
      if (failure.connection_lost) DropConnection();
      return failure.status;
    }
  }

  // Sleeps until a NOTIFY, Stop() or idle_wait, in short slices so Stop() is honoured quickly.
  void WaitForWork() {
    absl::Time deadline = absl::Now() + options.idle_wait;
    while (!notified && !stop.stopped()) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return;
      absl::Duration slice = std::min(left, absl::Milliseconds(200));
      if (conn == nullptr) {
        stop.WaitFor(slice);
        continue;
      }
      try {
        int64_t us = absl::ToInt64Microseconds(slice);
        conn->await_notification(static_cast<long>(us / 1000000), static_cast<long>(us % 1000000));
      } catch (const std::exception& e) {
        if (ClassifyDbException(e).connection_lost) DropConnection();
        return;
      }
    }
  }

  void Loop() {
    absl::Duration backoff = options.min_backoff;
    while (!stop.stopped()) {
      absl::StatusOr<int> n = RelayOnce();
      if (!n.ok()) {
        log::Warning("outbox relay failed; retrying")
            .Field("error", n.status().ToString())
            .Field("backoff_ms", absl::ToInt64Milliseconds(backoff));
        stop.WaitFor(backoff);
        backoff = std::min(backoff * 2, options.max_backoff);
        continue;
      }
      backoff = options.min_backoff;
      if (*n < options.batch) WaitForWork();
    }
  }
};

OutboxRelay::OutboxRelay(Options options, PublisherFactory publisher_factory)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->factory = std::move(publisher_factory);
}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  impl_->thread = std::thread([this] { impl_->Loop(); });
}

void OutboxRelay::Stop() {
  impl_->stop.Stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

absl::StatusOr<int> OutboxRelay::RelayOnce() { return impl_->RelayOnce(); }

}  // namespace gaze::metadata
