// OutboxRelay against a real PostgreSQL and a fake publisher: rows leave the outbox only after
// a confirmed publish, and a NOTIFY wakes the relay thread.
#include <mutex>
#include <thread>

#include "gaze/tasks/v1/task_message.pb.h"
#include "gtest/gtest.h"
#include "metadata-svc/outbox_relay.h"
#include "metadata-svc/pg_image_repository.h"
#include "metadata-svc/testing/test_database.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

// What the fake broker saw; shared by every publisher the factory hands out.
struct Broker {
  std::mutex mu;
  std::vector<amqp::Message> confirmed;
  int connects = 0;
  bool refuse_connections = false;
  bool fail_publish = false;
};

class FakePublisher final : public amqp::Publisher {
 public:
  explicit FakePublisher(std::shared_ptr<Broker> broker) : broker_(std::move(broker)) {}
  absl::Status PublishConfirmed(const std::vector<amqp::Message>& messages,
                                absl::Duration) override {
    std::lock_guard<std::mutex> lock(broker_->mu);
    if (broker_->fail_publish) return absl::UnavailableError("nack");
    broker_->confirmed.insert(broker_->confirmed.end(), messages.begin(), messages.end());
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<Broker> broker_;
};

class OutboxRelayTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pool_ = NewPool();
    images_ = std::make_unique<PgImageRepository>(*pool_, ListLimits{});
  }

  OutboxRelay::PublisherFactory Factory() {
    return [broker = broker_]() -> absl::StatusOr<std::unique_ptr<amqp::Publisher>> {
      std::lock_guard<std::mutex> lock(broker->mu);
      if (broker->refuse_connections) return absl::UnavailableError("connection refused");
      ++broker->connects;
      return std::make_unique<FakePublisher>(broker);
    };
  }

  // Deletes an image with bytes, which queues one delete_data task; returns its id.
  std::string NewTask(const std::string& request_id) {
    std::string id = NewUuid();
    Sql("INSERT INTO images (id, status, visibility, owner, created_at, updated_at, locations) "
        "VALUES ('" +
        id +
        "', 'active', 'private', 'p1', now(), now(), "
        "'[{\"url\": \"file:///d/" +
        id + "\", \"metadata\": {}}]')");
    v1::DeleteImageRequest del;
    del.mutable_caller()->set_project_id("p1");
    del.set_id(id);
    auto r = images_->DeleteImage(del, request_id);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->response.task_id() : "";
  }

  size_t Confirmed() {
    std::lock_guard<std::mutex> lock(broker_->mu);
    return broker_->confirmed.size();
  }

  std::shared_ptr<Broker> broker_ = std::make_shared<Broker>();
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgImageRepository> images_;
};

TEST_F(OutboxRelayTest, PublishFailureKeepsRowsAndSuccessDeletesThem) {
  std::vector<std::string> tasks = {NewTask("req-a"), NewTask("req-b"), NewTask("req-c")};
  OutboxRelay relay({.dsn = dsn(), .batch = 100}, Factory());

  broker_->refuse_connections = true;
  EXPECT_EQ(relay.RelayOnce().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "3");

  broker_->refuse_connections = false;
  broker_->fail_publish = true;
  EXPECT_FALSE(relay.RelayOnce().ok());
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "3");
  EXPECT_EQ(Confirmed(), 0u);

  broker_->fail_publish = false;
  auto n = relay.RelayOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3);
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "0");
  EXPECT_EQ(broker_->connects, 2);  // the publisher that failed was replaced
  ASSERT_EQ(Confirmed(), 3u);
  for (size_t i = 0; i < tasks.size(); ++i) {
    const amqp::Message& m = broker_->confirmed[i];
    EXPECT_EQ(m.message_id, tasks[i]);
    EXPECT_EQ(m.correlation_id, std::string("req-") + static_cast<char>('a' + i));
    EXPECT_EQ(m.type, "delete_data");
    gaze::tasks::v1::TaskMessage body;
    ASSERT_TRUE(body.ParseFromString(m.body));
    EXPECT_EQ(body.task_id(), tasks[i]);
    EXPECT_EQ(body.type(), v1::TASK_TYPE_DELETE_DATA);
    EXPECT_EQ(body.request_id(), m.correlation_id);
  }
  EXPECT_EQ(relay.RelayOnce().value(), 0);
}

TEST_F(OutboxRelayTest, PublishesInBatches) {
  for (int i = 0; i < 5; ++i) NewTask("req");
  OutboxRelay relay({.dsn = dsn(), .batch = 2}, Factory());
  EXPECT_EQ(relay.RelayOnce().value(), 2);
  EXPECT_EQ(relay.RelayOnce().value(), 2);
  EXPECT_EQ(relay.RelayOnce().value(), 1);
  EXPECT_EQ(relay.RelayOnce().value(), 0);
}

TEST_F(OutboxRelayTest, ThreadIsWokenByNotify) {
  // An idle wait far longer than the test allows: only the NOTIFY can deliver in time.
  OutboxRelay relay({.dsn = dsn(), .batch = 100, .idle_wait = absl::Minutes(5)}, Factory());
  relay.Start();
  absl::SleepFor(absl::Milliseconds(300));  // let the relay reach its idle wait
  std::string task = NewTask("req-n");
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Confirmed() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_EQ(Confirmed(), 1u);
  EXPECT_EQ(broker_->confirmed[0].message_id, task);
  relay.Stop();
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "0");
}

TEST_F(OutboxRelayTest, ThreadRetriesUntilTheBrokerAcceptsAndSurvivesConnectionLoss) {
  broker_->fail_publish = true;
  NewTask("req-r");
  OutboxRelay relay({.dsn = dsn(),
                     .batch = 100,
                     .idle_wait = absl::Milliseconds(100),
                     .min_backoff = absl::Milliseconds(10),
                     .max_backoff = absl::Milliseconds(50)},
                    Factory());
  relay.Start();
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "1");
  // Kill the relay's database connection too: it must reconnect by itself.
  Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  {
    std::lock_guard<std::mutex> lock(broker_->mu);
    broker_->fail_publish = false;
  }
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Confirmed() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  relay.Stop();
  EXPECT_EQ(Confirmed(), 1u);
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "0");
}

}  // namespace
}  // namespace gaze::metadata
