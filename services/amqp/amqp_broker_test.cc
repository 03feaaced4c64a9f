// Publisher and Consumer against a real RabbitMQ (GAZE_TEST_AMQP_URL). Every test declares
// its own uniquely named queue and deletes it afterwards.
#include <chrono>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/amqp/amqp.h"
#include "services/amqp/testing/broker.h"
#include "services/amqp/testing/tcp_proxy.h"
#include "services/amqp/url.h"

namespace gaze::amqp {
namespace {

using testing::BrokerAdmin;
using testing::TcpProxy;

constexpr absl::Duration kConfirmTimeout = absl::Seconds(10);
constexpr absl::Duration kDeliveryTimeout = absl::Seconds(5);

class AmqpBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::TestBrokerUrl();
    if (url_.empty()) {
      if (testing::InCi()) FAIL() << "GAZE_TEST_AMQP_URL is not set (required when CI=true)";
      GTEST_SKIP() << "GAZE_TEST_AMQP_URL is not set";
    }
    auto admin = BrokerAdmin::Connect(url_);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = *std::move(admin);
    options_.url = url_;
    options_.queue =
        testing::UniqueQueueName(::testing::UnitTest::GetInstance()->current_test_info()->name());
    options_.delivery_limit = 5;
    options_.connect_timeout = absl::Seconds(2);
    options_.connection_name = "amqp_broker_test";
  }

  void TearDown() override {
    if (admin_ != nullptr) {
      absl::Status deleted = admin_->DeleteTopology(options_.queue);
      EXPECT_TRUE(deleted.ok()) << deleted;
    }
  }

  std::unique_ptr<Publisher> NewPublisher(const ConnectionOptions& options) {
    auto publisher = Publisher::Connect(options);
    EXPECT_TRUE(publisher.ok()) << publisher.status();
    return publisher.ok() ? *std::move(publisher) : nullptr;
  }
  std::unique_ptr<Consumer> NewConsumer(const ConnectionOptions& options, int prefetch) {
    auto consumer = Consumer::Connect(options, prefetch);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    return consumer.ok() ? *std::move(consumer) : nullptr;
  }

  static std::vector<Message> Messages(int n, const std::string& prefix) {
    std::vector<Message> out;
    for (int i = 0; i < n; ++i) {
      out.push_back({.body = absl::StrCat(prefix, i),
                     .message_id = absl::StrCat("task-", i),
                     .correlation_id = absl::StrCat("req-", i),
                     .type = "delete_data"});
    }
    return out;
  }

  // Options whose URL goes through `proxy` instead of straight to the broker.
  ConnectionOptions Via(const TcpProxy& proxy) const {
    auto parsed = ParseAmqpUrl(url_);
    EXPECT_TRUE(parsed.ok());
    ConnectionOptions options = options_;
    options.url =
        absl::StrCat("amqp://", parsed->user, ":", parsed->password, "@127.0.0.1:", proxy.port(),
                     "/", parsed->vhost == "/" ? "" : parsed->vhost);
    return options;
  }

  std::unique_ptr<TcpProxy> StartProxy() {
    auto parsed = ParseAmqpUrl(url_);
    EXPECT_TRUE(parsed.ok());
    auto proxy = TcpProxy::Start(parsed->host, parsed->port);
    EXPECT_TRUE(proxy.ok()) << proxy.status();
    return proxy.ok() ? *std::move(proxy) : nullptr;
  }

  std::string url_;
  std::unique_ptr<BrokerAdmin> admin_;
  ConnectionOptions options_;
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST_F(AmqpBrokerTest, PublishConfirmedThenConsumeAndAckAll) {
  constexpr int kCount = 50;
  auto publisher = NewPublisher(options_);
  ASSERT_NE(publisher, nullptr);
  // Two batches, so confirm sequence numbers continue across calls.
  auto messages = Messages(kCount, "body-");
  ASSERT_TRUE(publisher
                  ->PublishConfirmed(std::vector<Message>(messages.begin(), messages.begin() + 20),
                                     kConfirmTimeout)
                  .ok());
  ASSERT_TRUE(publisher
                  ->PublishConfirmed(std::vector<Message>(messages.begin() + 20, messages.end()),
                                     kConfirmTimeout)
                  .ok());
  EXPECT_TRUE(publisher->PublishConfirmed({}, kConfirmTimeout).ok()) << "empty batch";

  auto ready = admin_->ReadyCount(options_.queue);
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(*ready, static_cast<uint32_t>(kCount)) << "confirmed means enqueued";

  auto consumer = NewConsumer(options_, 10);
  ASSERT_NE(consumer, nullptr);
  for (int i = 0; i < kCount; ++i) {
    auto delivery = consumer->Next(kDeliveryTimeout);
    ASSERT_TRUE(delivery.ok()) << delivery.status();
    ASSERT_TRUE(delivery->has_value()) << "message " << i << " not delivered";
    const Delivery& d = **delivery;
    EXPECT_EQ(d.body, absl::StrCat("body-", i)) << "one consumer sees the queue's order";
    EXPECT_EQ(d.message_id, absl::StrCat("task-", i));
    EXPECT_EQ(d.correlation_id, absl::StrCat("req-", i));
    EXPECT_EQ(d.type, "delete_data");
    EXPECT_FALSE(d.redelivered);
    ASSERT_TRUE(consumer->Ack(d.delivery_tag).ok());
  }
  auto none = consumer->Next(absl::Milliseconds(300));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  consumer.reset();  // an ack is asynchronous; closing the channel settles them
  ready = admin_->ReadyCount(options_.queue);
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(*ready, 0u) << "acked messages are gone for good";
}

TEST_F(AmqpBrokerTest, NackWithRequeueRedelivers) {
  auto publisher = NewPublisher(options_);
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->PublishConfirmed(Messages(1, "again-"), kConfirmTimeout).ok());
  auto consumer = NewConsumer(options_, 1);
  ASSERT_NE(consumer, nullptr);

  auto first = consumer->Next(kDeliveryTimeout);
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status();
  EXPECT_FALSE((*first)->redelivered);
  ASSERT_TRUE(consumer->Nack((*first)->delivery_tag, /*requeue=*/true).ok());

  auto second = consumer->Next(kDeliveryTimeout);
  ASSERT_TRUE(second.ok() && second->has_value()) << second.status();
  EXPECT_EQ((*second)->body, "again-0");
  EXPECT_TRUE((*second)->redelivered);
  ASSERT_TRUE(consumer->Ack((*second)->delivery_tag).ok());
}

TEST_F(AmqpBrokerTest, NackWithoutRequeueDeadLetters) {
  auto publisher = NewPublisher(options_);
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->PublishConfirmed(Messages(1, "poison-"), kConfirmTimeout).ok());
  auto consumer = NewConsumer(options_, 1);
  ASSERT_NE(consumer, nullptr);
  auto delivery = consumer->Next(kDeliveryTimeout);
  ASSERT_TRUE(delivery.ok() && delivery->has_value()) << delivery.status();
  ASSERT_TRUE(consumer->Nack((*delivery)->delivery_tag, /*requeue=*/false).ok());

  // Dead-lettering is asynchronous: poll the dead queue with a deadline.
  std::optional<std::string> dead;
  const auto start = std::chrono::steady_clock::now();
  while (!dead.has_value() && SecondsSince(start) < 10) {
    auto got = admin_->Get(options_.queue + ".dead");
    ASSERT_TRUE(got.ok()) << got.status();
    dead = *got;
  }
  ASSERT_TRUE(dead.has_value()) << "nothing in " << options_.queue << ".dead";
  EXPECT_EQ(*dead, "poison-0");
  auto again = consumer->Next(absl::Milliseconds(300));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value()) << "a dead-lettered message is not redelivered";
}

TEST_F(AmqpBrokerTest, DeliveryLimitDeadLettersAPoisonMessage) {
  options_.delivery_limit = 2;
  auto publisher = NewPublisher(options_);
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->PublishConfirmed(Messages(1, "loop-"), kConfirmTimeout).ok());
  auto consumer = NewConsumer(options_, 1);
  ASSERT_NE(consumer, nullptr);
  int deliveries = 0;
  for (;;) {
    auto delivery = consumer->Next(absl::Seconds(1));
    ASSERT_TRUE(delivery.ok()) << delivery.status();
    if (!delivery->has_value()) break;
    ++deliveries;
    ASSERT_LE(deliveries, 10) << "x-delivery-limit not applied";
    ASSERT_TRUE(consumer->Nack((*delivery)->delivery_tag, /*requeue=*/true).ok());
  }
  EXPECT_EQ(deliveries, 3) << "the first delivery plus delivery_limit redeliveries";
  auto dead = admin_->Get(options_.queue + ".dead");
  ASSERT_TRUE(dead.ok()) << dead.status();
  EXPECT_EQ(dead->value_or(""), "loop-0");
}

TEST_F(AmqpBrokerTest, PrefetchBoundsUnackedDeliveries) {
  auto publisher = NewPublisher(options_);
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->PublishConfirmed(Messages(5, "m"), kConfirmTimeout).ok());
  auto consumer = NewConsumer(options_, 2);
  ASSERT_NE(consumer, nullptr);

  std::vector<uint64_t> tags;
  for (int i = 0; i < 2; ++i) {
    auto d = consumer->Next(kDeliveryTimeout);
    ASSERT_TRUE(d.ok() && d->has_value()) << d.status();
    tags.push_back((*d)->delivery_tag);
  }
  auto third = consumer->Next(absl::Milliseconds(500));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_FALSE(third->has_value()) << "a third delivery while two are unacked";

  ASSERT_TRUE(consumer->Ack(tags[0]).ok());
  auto next = consumer->Next(kDeliveryTimeout);
  ASSERT_TRUE(next.ok() && next->has_value()) << next.status();
  EXPECT_EQ((*next)->body, "m2");
}

TEST_F(AmqpBrokerTest, NextTimesOutWithNothing) {
  auto consumer = NewConsumer(options_, 1);
  ASSERT_NE(consumer, nullptr);
  const auto start = std::chrono::steady_clock::now();
  auto d = consumer->Next(absl::Milliseconds(300));
  const double took = SecondsSince(start);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->has_value());
  EXPECT_GE(took, 0.25);
  EXPECT_LT(took, 2.0);
  auto zero = consumer->Next(absl::ZeroDuration());
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_FALSE(zero->has_value());
}

TEST_F(AmqpBrokerTest, DeclaringTwiceIsIdempotent) {
  auto p1 = NewPublisher(options_);
  auto p2 = NewPublisher(options_);
  auto c1 = NewConsumer(options_, 1);
  auto c2 = NewConsumer(options_, 3);
  ASSERT_TRUE(p1 && p2 && c1 && c2);
  ASSERT_TRUE(p2->PublishConfirmed(Messages(1, "x"), kConfirmTimeout).ok());
}

TEST_F(AmqpBrokerTest, RedeclaringWithOtherArgumentsFails) {
  ASSERT_NE(NewPublisher(options_), nullptr);
  ConnectionOptions other = options_;
  other.delivery_limit = options_.delivery_limit + 1;
  auto publisher = Publisher::Connect(other);
  ASSERT_FALSE(publisher.ok());
  EXPECT_EQ(publisher.status().code(), absl::StatusCode::kFailedPrecondition) << publisher.status();
}

TEST_F(AmqpBrokerTest, UnroutableMessageIsAnError) {
  auto publisher = NewPublisher(options_);
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(admin_->DeleteQueue(options_.queue).ok());
  absl::Status status = publisher->PublishConfirmed(Messages(3, "lost-"), kConfirmTimeout);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find("unroutable"), absl::string_view::npos) << status;
}

TEST_F(AmqpBrokerTest, BadCredentialsArePermissionDenied) {
  auto parsed = ParseAmqpUrl(url_);
  ASSERT_TRUE(parsed.ok());
  ConnectionOptions options = options_;
  options.url = absl::StrCat("amqp://nobody:wrong@", parsed->host, ":", parsed->port, "/");
  auto publisher = Publisher::Connect(options);
  ASSERT_FALSE(publisher.ok());
  EXPECT_EQ(publisher.status().code(), absl::StatusCode::kPermissionDenied) << publisher.status();
  EXPECT_EQ(publisher.status().message().find("wrong"), absl::string_view::npos)
      << "password leaked: " << publisher.status();
}

TEST_F(AmqpBrokerTest, PublishAfterTheBrokerIsGoneFailsFast) {
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  auto publisher = NewPublisher(Via(*proxy));
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->PublishConfirmed(Messages(1, "before-"), kConfirmTimeout).ok());

  proxy->CutConnections();
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = publisher->PublishConfirmed(Messages(1, "after-"), kConfirmTimeout);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_LT(SecondsSince(start), 2.0) << "should notice the closed socket, not wait";
  EXPECT_FALSE(publisher->PublishConfirmed(Messages(1, "again-"), kConfirmTimeout).ok())
      << "a broken publisher stays broken";

  proxy->SetRefusing(true);
  auto reconnect = Publisher::Connect(Via(*proxy));
  EXPECT_EQ(reconnect.status().code(), absl::StatusCode::kUnavailable) << reconnect.status();
  proxy->SetRefusing(false);
  reconnect = Publisher::Connect(Via(*proxy));
  ASSERT_TRUE(reconnect.ok()) << reconnect.status();
  EXPECT_TRUE((*reconnect)->PublishConfirmed(Messages(1, "later-"), kConfirmTimeout).ok());
}

TEST_F(AmqpBrokerTest, PublishIntoABlackHoleTimesOut) {
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  auto publisher = NewPublisher(Via(*proxy));
  ASSERT_NE(publisher, nullptr);
  proxy->SetBlackhole(true);
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = publisher->PublishConfirmed(Messages(2, "m"), absl::Milliseconds(500));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_LT(SecondsSince(start), 2.0);
  // The messages may still be confirmed later; once the network is back, the late confirms
  // are discarded and the next batch is confirmed on its own.
  proxy->SetBlackhole(false);
  EXPECT_TRUE(publisher->PublishConfirmed(Messages(1, "n"), kConfirmTimeout).ok());
}

TEST_F(AmqpBrokerTest, ConsumerNoticesTheBrokerGoing) {
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  auto consumer = NewConsumer(Via(*proxy), 1);
  ASSERT_NE(consumer, nullptr);
  proxy->CutConnections();
  const auto start = std::chrono::steady_clock::now();
  auto d = consumer->Next(absl::Seconds(10));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable) << d.status();
  EXPECT_LT(SecondsSince(start), 2.0);
  EXPECT_FALSE(consumer->Ack(1).ok()) << "a broken consumer stays broken";
}

TEST_F(AmqpBrokerTest, ConnectFailsForAMissingVhost) {
  auto parsed = ParseAmqpUrl(url_);
  ASSERT_TRUE(parsed.ok());
  ConnectionOptions options = options_;
  options.url = absl::StrCat("amqp://", parsed->user, ":", parsed->password, "@", parsed->host, ":",
                             parsed->port, "/no-such-vhost");
  auto consumer = Consumer::Connect(options, 1);
  ASSERT_FALSE(consumer.ok());
  EXPECT_EQ(consumer.status().code(), absl::StatusCode::kPermissionDenied) << consumer.status();
}

}  // namespace
}  // namespace gaze::amqp
