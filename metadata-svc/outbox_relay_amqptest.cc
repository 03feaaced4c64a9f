// OutboxRelay with the real amqp::Publisher against PostgreSQL and RabbitMQ (GAZE_TEST_PG_DSN,
// GAZE_TEST_AMQP_URL): messages arrive on the queue, and while the broker is gone the outbox
// keeps them.
#include "absl/strings/str_cat.h"
#include "gaze/tasks/v1/task_message.pb.h"
#include "gtest/gtest.h"
#include "metadata-svc/outbox_relay.h"
#include "metadata-svc/testing/test_database.h"
#include "services/amqp/amqp.h"
#include "services/amqp/testing/broker.h"
#include "services/amqp/testing/tcp_proxy.h"
#include "services/amqp/url.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

class OutboxRelayBrokerTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string url = amqp::testing::TestBrokerUrl();
    if (url.empty()) {
      if (amqp::testing::InCi()) FAIL() << "GAZE_TEST_AMQP_URL is not set (required when CI=true)";
      GTEST_SKIP() << "GAZE_TEST_AMQP_URL is not set";
    }
    auto admin = amqp::testing::BrokerAdmin::Connect(url);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = std::move(*admin);
    auto parsed = amqp::ParseAmqpUrl(url);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    auto proxy = amqp::testing::TcpProxy::Start(parsed->host, parsed->port);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
    options_.url = absl::StrCat("amqp://", parsed->user, ":", parsed->password,
                                "@127.0.0.1:", proxy_->port(), "/");
    options_.queue = amqp::testing::UniqueQueueName("outbox_relay");
    options_.connect_timeout = absl::Seconds(2);
  }

  void TearDown() override {
    if (admin_ != nullptr) {
      EXPECT_TRUE(admin_->DeleteTopology(options_.queue).ok());
    }
    PgTest::TearDown();
  }

  std::string NewOutboxRow(const std::string& request_id) {
    std::string id = NewUuid();
    Sql("WITH t AS (INSERT INTO tasks (id, type, status, request_id, input) VALUES ('" + id +
        "', 'delete_data', 'pending', '" + request_id +
        "', '{\"urls\": []}') RETURNING id, type, request_id) "
        "INSERT INTO outbox (task_id, type, request_id) SELECT * FROM t");
    return id;
  }

  OutboxRelay::PublisherFactory Factory() {
    return [this] { return amqp::Publisher::Connect(options_); };
  }

  amqp::ConnectionOptions options_;
  std::unique_ptr<amqp::testing::BrokerAdmin> admin_;
  std::unique_ptr<amqp::testing::TcpProxy> proxy_;
};

TEST_F(OutboxRelayBrokerTest, PublishesConfirmedTaskMessages) {
  std::string task = NewOutboxRow("req-broker");
  OutboxRelay relay({.dsn = dsn()}, Factory());
  ASSERT_EQ(relay.RelayOnce().value(), 1);
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "0");
  auto body = admin_->Get(options_.queue);
  ASSERT_TRUE(body.ok()) << body.status();
  ASSERT_TRUE(body->has_value());
  gaze::tasks::v1::TaskMessage message;
  ASSERT_TRUE(message.ParseFromString(**body));
  EXPECT_EQ(message.task_id(), task);
  EXPECT_EQ(message.type(), v1::TASK_TYPE_DELETE_DATA);
  EXPECT_EQ(message.request_id(), "req-broker");
}

TEST_F(OutboxRelayBrokerTest, BrokerOutageKeepsRowsUntilItIsBack) {
  OutboxRelay relay({.dsn = dsn()}, Factory());
  NewOutboxRow("req-1");
  ASSERT_EQ(relay.RelayOnce().value(), 1);  // connected

  proxy_->CutConnections();
  proxy_->SetRefusing(true);
  NewOutboxRow("req-2");
  EXPECT_FALSE(relay.RelayOnce().ok());
  EXPECT_FALSE(relay.RelayOnce().ok());  // reconnecting fails too
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "1");

  proxy_->SetRefusing(false);
  ASSERT_EQ(relay.RelayOnce().value(), 1);
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "0");
  EXPECT_EQ(admin_->ReadyCount(options_.queue).value(), 2u);
}

}  // namespace
}  // namespace gaze::metadata
