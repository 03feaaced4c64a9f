// The consumer logic (Worker + TaskHandler) against fakes of all three ports: the task queue,
// metadata-svc's TaskService and the store. Every test runs the real loop on the test thread
// until the queue is idle.
#include "task-worker/worker.h"

#include <deque>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gaze/tasks/v1/task_message.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "task-worker/task_handler.h"
#include "task-worker/testing/fake_import_runner.h"
#include "task-worker/testing/fake_task_service.h"

namespace gaze::worker {
namespace {

using ::testing::ElementsAre;
using testing::EventLog;
using testing::FakeTaskService;
using ::testing::HasSubstr;
namespace mv1 = ::gaze::metadata::v1;

constexpr char kWorkerId[] = "worker-1";

// Objects named file:///data/...; anything else is outside the store. Records "delete <url>".
class FakeStore final : public store::Store {
 public:
  explicit FakeStore(EventLog& events) : events_(events) {}

  void Put(const std::string& url) { objects_.insert(url); }
  bool Has(const std::string& url) const { return objects_.count(url) > 0; }
  int deletes() const { return deletes_; }
  void FailNextDeletes(std::vector<absl::Status> errors) {
    errors_.insert(errors_.end(), errors.begin(), errors.end());
  }

  std::string UrlFor(std::string_view image_id, std::string_view upload_id) const override {
    return absl::StrCat("file:///data/", std::string(image_id), ".", std::string(upload_id));
  }
  absl::StatusOr<std::unique_ptr<store::ObjectWriter>> Create(std::string_view) override {
    return absl::UnimplementedError("FakeStore holds no bytes");
  }
  absl::StatusOr<store::ReadableObject> Open(std::string_view) override {
    return absl::UnimplementedError("FakeStore holds no bytes");
  }
  absl::Status Delete(std::string_view url) override {
    const std::string u(url);
    events_.Add("delete " + u);
    if (!errors_.empty()) {
      absl::Status error = errors_.front();
      errors_.pop_front();
      return error;
    }
    if (u.rfind("file:///data/", 0) != 0) return absl::InvalidArgumentError("not in this store");
    ++deletes_;
    objects_.erase(u);
    return absl::OkStatus();
  }

 private:
  EventLog& events_;
  std::set<std::string> objects_;
  std::deque<absl::Status> errors_;
  int deletes_ = 0;
};

// A queue with RabbitMQ's delivery semantics, as far as the worker can tell: deliveries are
// handed out in order with increasing tags, a requeued one comes back with redelivered=true,
// and so do the unsettled ones of a consumer that goes away. Records "ack <body>",
// "requeue <body>", "dead-letter <body>". Single-threaded.
class FakeQueue {
 public:
  explicit FakeQueue(EventLog& events) : events_(events) {}

  void Publish(std::string body, std::string correlation_id = "") {
    amqp::Delivery d;
    d.body = std::move(body);
    d.correlation_id = std::move(correlation_id);
    ready_.push_back(std::move(d));
  }
  // Runs when a consumer finds the queue empty: the tests stop the worker there.
  void OnIdle(std::function<void()> hook) { on_idle_ = std::move(hook); }
  void FailNextConnects(int n) { failing_connects_ = n; }
  // The next Next() of the current consumer fails, as on a lost connection.
  void BreakConsumer() { break_consumer_ = true; }
  int connects() const { return connects_; }
  int live_consumers() const { return live_consumers_; }
  size_t ready() const { return ready_.size(); }
  const std::vector<std::string>& dead_letters() const { return dead_letters_; }

  ConsumerFactory Factory() {
    return [this]() -> absl::StatusOr<std::unique_ptr<amqp::Consumer>> {
      ++connects_;
      if (failing_connects_ > 0) {
        --failing_connects_;
        return absl::UnavailableError("broker down");
      }
      return std::make_unique<Consumer>(*this);
    };
  }

 private:
  class Consumer final : public amqp::Consumer {
   public:
    explicit Consumer(FakeQueue& q) : q_(q) { ++q_.live_consumers_; }
    ~Consumer() override {
      for (auto& [tag, d] : unacked_) q_.Return(std::move(d));
      --q_.live_consumers_;
    }
    absl::StatusOr<std::optional<amqp::Delivery>> Next(absl::Duration) override {
      if (q_.break_consumer_) {
        q_.break_consumer_ = false;
        broken_ = true;
      }
      if (broken_) return absl::UnavailableError("connection lost");
      if (q_.ready_.empty()) {
        if (q_.on_idle_) q_.on_idle_();
        return std::nullopt;
      }
      amqp::Delivery d = std::move(q_.ready_.front());
      q_.ready_.pop_front();
      d.delivery_tag = ++q_.last_tag_;
      unacked_[d.delivery_tag] = d;
      return d;
    }
    absl::Status Ack(uint64_t tag) override {
      amqp::Delivery d = Take(tag);
      q_.events_.Add("ack " + d.body);
      return absl::OkStatus();
    }
    absl::Status Nack(uint64_t tag, bool requeue) override {
      amqp::Delivery d = Take(tag);
      q_.events_.Add((requeue ? "requeue " : "dead-letter ") + d.body);
      if (requeue) {
        q_.Return(std::move(d));
      } else {
        q_.dead_letters_.push_back(d.body);
      }
      return absl::OkStatus();
    }

   private:
    amqp::Delivery Take(uint64_t tag) {
      auto it = unacked_.find(tag);
      EXPECT_NE(it, unacked_.end()) << "settling unknown delivery tag " << tag;
      if (it == unacked_.end()) return {};
      amqp::Delivery d = std::move(it->second);
      unacked_.erase(it);
      return d;
    }
    FakeQueue& q_;
    bool broken_ = false;
    std::map<uint64_t, amqp::Delivery> unacked_;
  };

  void Return(amqp::Delivery d) {
    d.redelivered = true;
    ready_.push_back(std::move(d));
  }

  EventLog& events_;
  std::deque<amqp::Delivery> ready_;
  std::vector<std::string> dead_letters_;
  std::function<void()> on_idle_;
  int failing_connects_ = 0;
  bool break_consumer_ = false;
  int connects_ = 0;
  int live_consumers_ = 0;
  uint64_t last_tag_ = 0;
};

std::string TaskBody(const std::string& task_id, const std::string& request_id) {
  tasks::v1::TaskMessage message;
  message.set_task_id(task_id);
  message.set_type(mv1::TASK_TYPE_DELETE_DATA);
  message.set_request_id(request_id);
  return message.SerializeAsString();
}

WorkerOptions FastOptions() {
  WorkerOptions options;
  options.poll_interval = absl::Milliseconds(1);
  options.reconnect_initial = absl::Milliseconds(1);
  options.reconnect_max = absl::Milliseconds(2);
  options.retry_initial = absl::Milliseconds(1);
  options.retry_max = absl::Milliseconds(2);
  return options;
}

class WorkerTest : public ::testing::Test {
 protected:
  WorkerTest()
      : tasks_(&events_),
        store_(events_),
        queue_(events_),
        imports_(tasks_, kWorkerId, &events_),
        handler_({.worker_id = kWorkerId, .lease_seconds = 60}, tasks_, store_, imports_),
        worker_(FastOptions(), queue_.Factory(), handler_) {
    queue_.OnIdle([this] { worker_.Stop(); });
  }

  // The task's body is its id, so events read "ack t1" rather than "ack <protobuf>".
  void PublishTask(const std::string& task_id, const std::string& request_id = "req-1") {
    queue_.Publish(TaskBody(task_id, request_id), request_id);
    bodies_[TaskBody(task_id, request_id)] = task_id;
  }

  // The event log with message bodies replaced by task ids.
  std::vector<std::string> Events() const {
    std::vector<std::string> out;
    for (std::string e : events_.events()) {
      for (const auto& [body, id] : bodies_) {
        const size_t at = e.find(body);
        if (at != std::string::npos && at + body.size() == e.size()) {
          e = e.substr(0, at) + id;
          break;
        }
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  EventLog events_;
  FakeTaskService tasks_;
  FakeStore store_;
  FakeQueue queue_;
  testing::FakeImportRunner imports_;
  TaskHandler handler_;
  Worker worker_;
  std::map<std::string, std::string> bodies_;
};

TEST_F(WorkerTest, HappyPathAcksAfterCompleteTask) {
  store_.Put("file:///data/a");
  store_.Put("file:///data/b");
  tasks_.AddDeleteTask("t1", {"file:///data/a", "file:///data/b"});
  PublishTask("t1", "req-abc");

  worker_.Run();

  EXPECT_THAT(Events(), ElementsAre("claim t1", "delete file:///data/a", "delete file:///data/b",
                                    "complete t1 ok", "ack t1"));
  EXPECT_FALSE(store_.Has("file:///data/a"));
  EXPECT_FALSE(store_.Has("file:///data/b"));
  EXPECT_EQ(tasks_.status("t1"), mv1::TASK_STATUS_SUCCESS);
  EXPECT_THAT(tasks_.request_ids(), ElementsAre("req-abc", "req-abc"))
      << "every call to metadata-svc carries the message's request id";
  EXPECT_EQ(queue_.live_consumers(), 0) << "Run() closes its consumer";
}

// The at-least-once contract: the same message delivered twice (say the first ack was lost
// with the connection) has one effect.
TEST_F(WorkerTest, DuplicateDeliveryHasOneEffect) {
  store_.Put("file:///data/a");
  tasks_.AddDeleteTask("t1", {"file:///data/a"});
  PublishTask("t1");
  PublishTask("t1");

  worker_.Run();

  EXPECT_THAT(Events(), ElementsAre("claim t1", "delete file:///data/a", "complete t1 ok", "ack t1",
                                    "claim t1", "ack t1"));
  EXPECT_EQ(store_.deletes(), 1);
  EXPECT_EQ(tasks_.completions(), 1);
}

// IMPORT tasks go to the ImportRunner, which records their outcome with FinishImport; the
// handler neither deletes nor completes anything for them, and a duplicate does nothing.
TEST_F(WorkerTest, ImportTasksGoToTheImportRunnerOnce) {
  mv1::ImportInput input;
  input.set_method(mv1::IMPORT_METHOD_GLANCE_DIRECT);
  input.set_staging_url("file:///data/i1.staging");
  tasks_.AddImportTask("t1", "i1", input);
  PublishTask("t1", "req-imp");
  PublishTask("t1", "req-imp");

  worker_.Run();

  EXPECT_THAT(Events(),
              ElementsAre("claim t1", "import t1", "finish t1 ok", "ack t1", "claim t1", "ack t1"));
  EXPECT_EQ(tasks_.status("t1"), mv1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(store_.deletes(), 0);
  EXPECT_THAT(tasks_.request_ids(), ElementsAre("req-imp", "req-imp", "req-imp"));
}

TEST_F(WorkerTest, LeasedElsewhereIsAckedWithoutWork) {
  tasks_.AddDeleteTask("t1", {"file:///data/a"});
  tasks_.LeaseTo("t1", "worker-2");
  PublishTask("t1");

  worker_.Run();

  EXPECT_THAT(Events(), ElementsAre("claim t1", "ack t1"));
  EXPECT_EQ(tasks_.status("t1"), mv1::TASK_STATUS_PROCESSING) << "left to its lease holder";
}

TEST_F(WorkerTest, UnknownTaskIsAckedWithoutWork) {
  PublishTask("gone");
  worker_.Run();
  EXPECT_THAT(Events(), ElementsAre("claim gone", "ack gone"));
}

TEST_F(WorkerTest, TransientStoreErrorRequeuesThenSucceeds) {
  store_.Put("file:///data/a");
  tasks_.AddDeleteTask("t1", {"file:///data/a"});
  store_.FailNextDeletes({absl::UnavailableError("disk went away")});
  PublishTask("t1");

  worker_.Run();

  EXPECT_THAT(Events(),
              ElementsAre("claim t1", "delete file:///data/a", "requeue t1",  // nothing recorded
                          "claim t1", "delete file:///data/a", "complete t1 ok", "ack t1"));
  EXPECT_EQ(tasks_.status("t1"), mv1::TASK_STATUS_SUCCESS);
}

TEST_F(WorkerTest, MetadataUnavailableRequeues) {
  tasks_.AddDeleteTask("t1", {});
  tasks_.FailNextClaims(
      {absl::UnavailableError("metadata-svc down"), absl::DeadlineExceededError("slow")});
  tasks_.FailNextCompletes({absl::UnavailableError("metadata-svc down")});
  PublishTask("t1");

  worker_.Run();

  EXPECT_THAT(Events(),
              ElementsAre("claim t1", "requeue t1", "claim t1", "requeue t1", "claim t1",
                          "complete t1 ok", "requeue t1", "claim t1", "complete t1 ok", "ack t1"));
  EXPECT_EQ(tasks_.status("t1"), mv1::TASK_STATUS_SUCCESS);
}

TEST_F(WorkerTest, PermanentStoreErrorCompletesAsFailureAndAcks) {
  store_.Put("file:///data/b");
  tasks_.AddDeleteTask("t1", {"file:///etc/passwd", "file:///data/b"});
  PublishTask("t1");

  worker_.Run();

  EXPECT_THAT(Events(), ElementsAre("claim t1", "delete file:///etc/passwd",
                                    "delete file:///data/b", "complete t1 failed", "ack t1"));
  EXPECT_FALSE(store_.Has("file:///data/b")) << "the deletable objects are still deleted";
  EXPECT_EQ(tasks_.status("t1"), mv1::TASK_STATUS_FAILURE);
  EXPECT_THAT(tasks_.message("t1"), HasSubstr("file:///etc/passwd"));
}

TEST_F(WorkerTest, UnknownTaskTypeCompletesAsFailure) {
  mv1::Task task;
  task.set_id("t1");
  task.set_type(static_cast<mv1::TaskType>(42));
  tasks_.AddTask(task);
  PublishTask("t1");

  worker_.Run();

  EXPECT_THAT(Events(), ElementsAre("claim t1", "complete t1 failed", "ack t1"));
  EXPECT_THAT(tasks_.message("t1"), HasSubstr("not supported"));
}

TEST_F(WorkerTest, DeleteTaskWithoutInputCompletesAsFailure) {
  mv1::Task task;
  task.set_id("t1");
  task.set_type(mv1::TASK_TYPE_DELETE_DATA);
  tasks_.AddTask(task);
  PublishTask("t1");

  worker_.Run();

  EXPECT_THAT(Events(), ElementsAre("claim t1", "complete t1 failed", "ack t1"));
}

TEST_F(WorkerTest, BadBodyIsDeadLettered) {
  queue_.Publish("\xff\xff not a protobuf", "req-x");
  queue_.Publish("", "req-y");  // parses as an empty TaskMessage: no task id

  worker_.Run();

  EXPECT_THAT(events_.events(), ElementsAre("dead-letter \xff\xff not a protobuf", "dead-letter "));
  EXPECT_EQ(queue_.dead_letters().size(), 2u);
  EXPECT_TRUE(tasks_.request_ids().empty()) << "metadata-svc is not asked";
}

TEST_F(WorkerTest, RejectedTaskIdIsDeadLettered) {
  tasks_.FailNextClaims({absl::InvalidArgumentError("task id is not a UUID")});
  PublishTask("not-a-uuid");
  worker_.Run();
  EXPECT_THAT(Events(), ElementsAre("claim not-a-uuid", "dead-letter not-a-uuid"));
}

TEST_F(WorkerTest, LostLeaseOnCompleteIsAcked) {
  tasks_.AddDeleteTask("t1", {});
  tasks_.FailNextCompletes({absl::FailedPreconditionError("lease expired")});
  PublishTask("t1");
  worker_.Run();
  EXPECT_THAT(Events(), ElementsAre("claim t1", "complete t1 ok", "ack t1"));
}

TEST_F(WorkerTest, ReconnectsUntilTheBrokerIsBack) {
  tasks_.AddDeleteTask("t1", {});
  queue_.FailNextConnects(3);
  PublishTask("t1");

  worker_.Run();

  EXPECT_EQ(queue_.connects(), 4);
  EXPECT_THAT(Events(), ElementsAre("claim t1", "complete t1 ok", "ack t1"));
}

TEST_F(WorkerTest, LostConsumerReconnectsAndUnsettledDeliveriesComeBack) {
  tasks_.AddDeleteTask("t1", {});
  tasks_.AddDeleteTask("t2", {});
  PublishTask("t1");
  PublishTask("t2");
  // Break the connection while t1 is being worked on: its ack fails in real life; here the
  // consumer is replaced before the next delivery, which is what matters to the loop.
  tasks_.OnClaim([this] {
    queue_.BreakConsumer();
    tasks_.OnClaim(nullptr);
  });

  worker_.Run();

  EXPECT_EQ(queue_.connects(), 2);
  EXPECT_EQ(tasks_.status("t1"), mv1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(tasks_.status("t2"), mv1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(queue_.ready(), 0u);
}

TEST_F(WorkerTest, StopDuringBackoffRequeuesAndReturns) {
  WorkerOptions slow = FastOptions();
  slow.retry_initial = absl::Hours(1);
  slow.retry_max = absl::Hours(1);
  Worker worker(slow, queue_.Factory(), handler_);
  queue_.OnIdle([&worker] { worker.Stop(); });
  tasks_.AddDeleteTask("t1", {});
  tasks_.FailNextClaims({absl::UnavailableError("down")});
  // The termination signal arrives while the task is in progress.
  tasks_.OnClaim([&worker] { worker.Stop(); });
  PublishTask("t1");

  worker.Run();  // would hang for an hour if Stop() did not cut the back-off short

  EXPECT_THAT(Events(), ElementsAre("claim t1", "requeue t1"));
  EXPECT_EQ(queue_.ready(), 1u) << "the message is back in the queue for another worker";
}

TEST_F(WorkerTest, StopFinishesTheCurrentDeliveryAndTakesNoMore) {
  tasks_.AddDeleteTask("t1", {});
  tasks_.AddDeleteTask("t2", {});
  tasks_.OnClaim([this] { worker_.Stop(); });
  PublishTask("t1");
  PublishTask("t2");

  worker_.Run();

  EXPECT_THAT(Events(), ElementsAre("claim t1", "complete t1 ok", "ack t1"));
  EXPECT_EQ(queue_.ready(), 1u);
  EXPECT_EQ(queue_.live_consumers(), 0);
}

}  // namespace
}  // namespace gaze::worker
