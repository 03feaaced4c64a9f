// task-worker against a real RabbitMQ (GAZE_TEST_AMQP_URL) and a real file store, with
// metadata-svc faked: tasks published with the amqp library are run once each, a duplicate
// message has no second effect, garbage is dead-lettered, and the worker keeps working across
// broker outages (a TCP proxy between worker and broker cuts and refuses its connections).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gaze/tasks/v1/task_message.pb.h"
#include "gtest/gtest.h"
#include "services/amqp/amqp.h"
#include "services/amqp/testing/broker.h"
#include "services/amqp/testing/tcp_proxy.h"
#include "services/amqp/url.h"
#include "services/store/file_store.h"
#include "task-worker/task_handler.h"
#include "task-worker/testing/fake_import_runner.h"
#include "task-worker/testing/fake_task_service.h"
#include "task-worker/worker.h"

namespace gaze::worker {
namespace {

namespace mv1 = ::gaze::metadata::v1;
using amqp::testing::BrokerAdmin;
using amqp::testing::TcpProxy;

// Polls `done` until it holds or 20 s have passed.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class WorkerBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = amqp::testing::TestBrokerUrl();
    if (url_.empty()) {
      if (amqp::testing::InCi()) FAIL() << "GAZE_TEST_AMQP_URL is not set (required when CI=true)";
      GTEST_SKIP() << "GAZE_TEST_AMQP_URL is not set";
    }
    auto admin = BrokerAdmin::Connect(url_);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = *std::move(admin);

    char tmpl[] = "/tmp/gaze-worker-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = store::FileStore::InDirectory(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);

    auto parsed = amqp::ParseAmqpUrl(url_);
    ASSERT_TRUE(parsed.ok());
    auto proxy = TcpProxy::Start(parsed->host, parsed->port);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);

    options_.url = url_;
    options_.queue = amqp::testing::UniqueQueueName("worker");
    options_.connect_timeout = absl::Seconds(2);
    auto publisher = amqp::Publisher::Connect(options_);
    ASSERT_TRUE(publisher.ok()) << publisher.status();
    publisher_ = *std::move(publisher);

    worker_options_ = options_;
    worker_options_.url =
        absl::StrCat("amqp://", parsed->user, ":", parsed->password, "@127.0.0.1:", proxy_->port(),
                     "/", parsed->vhost == "/" ? "" : parsed->vhost);
  }

  void TearDown() override {
    if (thread_.joinable()) {
      worker_->Stop();
      thread_.join();
    }
    if (admin_ != nullptr) {
      absl::Status deleted = admin_->DeleteTopology(options_.queue);
      EXPECT_TRUE(deleted.ok()) << deleted;
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void StartWorker() {
    handler_ = std::make_unique<TaskHandler>(
        TaskHandler::Options{.worker_id = "it-worker", .lease_seconds = 60}, tasks_, *store_,
        imports_);
    WorkerOptions options;
    options.poll_interval = absl::Milliseconds(50);
    options.reconnect_initial = absl::Milliseconds(50);
    options.reconnect_max = absl::Milliseconds(200);
    worker_ = std::make_unique<Worker>(
        options,
        [this] {
          ++connects_;
          return amqp::Consumer::Connect(worker_options_, 2);
        },
        *handler_);
    thread_ = std::thread([this] { worker_->Run(); });
  }

  // Creates an object in the store and returns its URL.
  std::string PutObject(const std::string& name) {
    std::string url = store_->UrlFor(name, "u1");
    std::ofstream(url.substr(std::string("file://").size())) << "bytes of " << name;
    return url;
  }
  bool Exists(const std::string& url) const {
    return std::filesystem::exists(url.substr(std::string("file://").size()));
  }

  void PublishTask(const std::string& task_id) {
    tasks::v1::TaskMessage message;
    message.set_task_id(task_id);
    message.set_type(mv1::TASK_TYPE_DELETE_DATA);
    message.set_request_id("req-" + task_id);
    absl::Status published = publisher_->PublishConfirmed({{.body = message.SerializeAsString(),
                                                            .message_id = task_id,
                                                            .correlation_id = "req-" + task_id,
                                                            .type = "delete_data"}},
                                                          absl::Seconds(10));
    ASSERT_TRUE(published.ok()) << published;
  }

  bool Succeeded(const std::string& task_id) const {
    return tasks_.status(task_id) == mv1::TASK_STATUS_SUCCESS;
  }

  std::string url_;
  std::string dir_;
  std::unique_ptr<BrokerAdmin> admin_;
  std::unique_ptr<store::FileStore> store_;
  std::unique_ptr<TcpProxy> proxy_;
  amqp::ConnectionOptions options_;
  amqp::ConnectionOptions worker_options_;
  std::unique_ptr<amqp::Publisher> publisher_;
  testing::FakeTaskService tasks_;
  testing::FakeImportRunner imports_{tasks_, "it-worker"};
  std::unique_ptr<TaskHandler> handler_;
  std::unique_ptr<Worker> worker_;
  std::atomic<int> connects_{0};
  std::thread thread_;
};

TEST_F(WorkerBrokerTest, RunsTasksOnceDeadLettersGarbageAndSurvivesBrokerOutages) {
  const std::string a = PutObject("a");
  const std::string b = PutObject("b");
  const std::string c = PutObject("c");
  tasks_.AddDeleteTask("t1", {a, b});
  tasks_.AddDeleteTask("t2", {c});
  PublishTask("t1");
  PublishTask("t2");
  PublishTask("t1");  // a duplicate, as after a lost ack
  amqp::Message garbage;
  garbage.body = "garbage";
  ASSERT_TRUE(publisher_->PublishConfirmed({garbage}, absl::Seconds(10)).ok());

  StartWorker();
  ASSERT_TRUE(Eventually([&] { return Succeeded("t1") && Succeeded("t2"); }));
  std::optional<std::string> dead;
  ASSERT_TRUE(Eventually([&] {
    auto got = admin_->Get(options_.queue + ".dead");
    if (got.ok()) dead = *got;
    return dead.has_value();
  }));
  EXPECT_EQ(*dead, "garbage");
  EXPECT_FALSE(Exists(a));
  EXPECT_FALSE(Exists(b));
  EXPECT_FALSE(Exists(c));
  ASSERT_TRUE(Eventually([&] {
    auto ready = admin_->ReadyCount(options_.queue);
    return ready.ok() && *ready == 0;
  }));
  EXPECT_EQ(tasks_.completions(), 2) << "the duplicate message had no effect";

  // The broker "restarts": every connection is cut.
  proxy_->CutConnections();
  const std::string d = PutObject("d");
  tasks_.AddDeleteTask("t3", {d});
  PublishTask("t3");
  ASSERT_TRUE(Eventually([&] { return Succeeded("t3"); })) << "worker did not reconnect";
  EXPECT_FALSE(Exists(d));

  // A longer outage: the broker is down for a while, refusing connections.
  proxy_->SetRefusing(true);
  proxy_->CutConnections();
  tasks_.AddDeleteTask("t4", {});
  PublishTask("t4");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let reconnects fail a few times
  EXPECT_FALSE(Succeeded("t4"));
  proxy_->SetRefusing(false);
  ASSERT_TRUE(Eventually([&] { return Succeeded("t4"); })) << "worker did not come back";

  worker_->Stop();
  thread_.join();
  EXPECT_EQ(tasks_.completions(), 4);
  for (const std::string& rid : tasks_.request_ids()) {
    EXPECT_EQ(rid.rfind("req-t", 0), 0u) << "calls carry the message's request id: " << rid;
  }
}

// A task that runs for several heartbeat intervals (an import) does not cost the connection:
// the consumer thread keeps sending heartbeats meanwhile, so the broker does not drop it, the
// ack goes out on the same connection and the message is not redelivered.
TEST_F(WorkerBrokerTest, ATaskLongerThanTwoHeartbeatsKeepsTheConnection) {
  worker_options_.consumer_heartbeat_seconds = 1;
  tasks_.AddDeleteTask("long", {});
  tasks_.AddDeleteTask("next", {});
  std::atomic<int> claims{0};
  tasks_.OnClaim([&claims] {
    if (++claims == 1) std::this_thread::sleep_for(std::chrono::seconds(4));
  });
  PublishTask("long");
  PublishTask("next");
  StartWorker();
  ASSERT_TRUE(Eventually([&] { return Succeeded("long") && Succeeded("next"); }));
  ASSERT_TRUE(Eventually([&] {
    auto ready = admin_->ReadyCount(options_.queue);
    return ready.ok() && *ready == 0;
  }));
  // Time for a lost connection to show (a reconnect, a redelivery) before looking.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  worker_->Stop();
  thread_.join();
  EXPECT_EQ(connects_, 1) << "the worker had to reconnect";
  EXPECT_EQ(claims, 2) << "a message was delivered again";
  EXPECT_EQ(tasks_.completions(), 2);
}

TEST_F(WorkerBrokerTest, StopReturnsPrefetchedMessagesToTheQueue) {
  for (const char* id : {"s1", "s2", "s3"}) tasks_.AddDeleteTask(id, {});
  // The first task stops the worker while it runs: it is finished, the other two were
  // prefetched (prefetch 2) or still queued, and go back to the queue unacked.
  tasks_.OnClaim([this] { worker_->Stop(); });
  PublishTask("s1");
  PublishTask("s2");
  PublishTask("s3");
  StartWorker();
  thread_.join();
  EXPECT_TRUE(Succeeded("s1"));
  EXPECT_FALSE(Succeeded("s2"));
  EXPECT_FALSE(Succeeded("s3"));
  ASSERT_TRUE(Eventually([&] {
    auto ready = admin_->ReadyCount(options_.queue);
    return ready.ok() && *ready == 2;
  }));
}

}  // namespace
}  // namespace gaze::worker
