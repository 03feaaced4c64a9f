// TaskRedriver and PgTaskRepository::RedriveStaleTasks against a real PostgreSQL: which tasks
// are re-driven, that each gets one outbox row however many replicas run, and that a re-driven
// task rests for redrive_after. Ages are explicit timestamps written in SQL, never sleeps.
#include <latch>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "metadata-svc/pg_statements.h"
#include "metadata-svc/pg_task_repository.h"
#include "metadata-svc/sql_params.h"
#include "metadata-svc/task_redriver.h"
#include "metadata-svc/testing/test_database.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

constexpr absl::Duration kRedriveAfter = absl::Seconds(60);

class TaskRedriverTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pool_ = NewPool();
    tasks_ = std::make_unique<PgTaskRepository>(*pool_);
    image_id_ = NewUuid();
    Sql("INSERT INTO images (id, status, visibility, owner, created_at, updated_at, deleted) "
        "VALUES ('" +
        image_id_ + "', 'deleted', 'private', 'p1', now(), now(), true)");
  }

  // Inserts `n` delete_data tasks as the relay leaves them once published (no outbox row), last
  // changed `age` ago (an SQL interval), and returns the id of one. Processing tasks are leased
  // to worker w1 until `lease_left` from now (an SQL interval; negative: expired).
  std::string AddTasks(int n, const std::string& status, const std::string& age,
                       const std::string& lease_left = "1 minute") {
    bool leased = status == "processing";
    return Sql(
        "INSERT INTO tasks (id, type, status, image_id, request_id, input, attempts, "
        "lease_owner, lease_expires_at, created_at, updated_at) "
        "SELECT gen_random_uuid(), 'delete_data', '" +
        status + "', '" + image_id_ + "', 'req-' || i, '{\"urls\": [\"file:///d/1\"]}', " +
        (leased ? "1, 'w1', now() + interval '" + lease_left + "'" : "0, NULL, NULL") +
        ", now() - interval '" + age + "', now() - interval '" + age +
        "' FROM generate_series(1, " + std::to_string(n) + ") i RETURNING id");
  }
  std::string AddTask(const std::string& status, const std::string& age,
                      const std::string& lease_left = "1 minute") {
    return AddTasks(1, status, age, lease_left);
  }

  absl::StatusOr<std::vector<RedrivenTask>> Redrive(int limit = TaskRedriver::kBatch) {
    return tasks_->RedriveStaleTasks(limit, kRedriveAfter);
  }

  // Outbox rows of one task, or of all tasks for "".
  std::string OutboxRows(const std::string& task_id = "") {
    return Sql("SELECT count(*) FROM outbox" +
               (task_id.empty() ? "" : " WHERE task_id = '" + task_id + "'"));
  }

  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgTaskRepository> tasks_;
  std::string image_id_;
};

TEST_F(TaskRedriverTest, StalePendingTaskGetsExactlyOneOutboxRow) {
  std::string id = AddTask("pending", "2 minutes");
  auto redriven = Redrive();
  ASSERT_TRUE(redriven.ok()) << redriven.status();
  ASSERT_EQ(redriven->size(), 1u);
  const RedrivenTask& t = (*redriven)[0];
  EXPECT_EQ(t.task_id, id);
  EXPECT_EQ(t.type, "delete_data");
  EXPECT_EQ(t.image_id, image_id_);
  EXPECT_EQ(t.request_id, "req-1");
  EXPECT_EQ(t.status, "pending");
  EXPECT_EQ(t.lease_owner, "");
  EXPECT_EQ(t.attempts, 0);

  // The row the relay publishes, exactly like the one written when the task was created.
  EXPECT_EQ(OutboxRows(id), "1");
  EXPECT_EQ(Sql("SELECT type || ' ' || request_id FROM outbox"), "delete_data req-1");
  // The task itself is unchanged but for updated_at, which now rests it for redrive_after.
  EXPECT_EQ(Sql("SELECT status || ' ' || attempts FROM tasks"), "pending 0");
  EXPECT_EQ(Sql("SELECT updated_at > now() - interval '10 seconds' FROM tasks"), "t");
}

TEST_F(TaskRedriverTest, FreshPendingTaskIsLeftAlone) {
  AddTask("pending", "30 seconds");
  EXPECT_EQ(Redrive()->size(), 0u);
  EXPECT_EQ(OutboxRows(), "0");
}

TEST_F(TaskRedriverTest, ProcessingTaskUnderLiveLeaseIsLeftAlone) {
  // Claimed long ago, but its worker still holds the lease.
  AddTask("processing", "10 minutes", "1 minute");
  EXPECT_EQ(Redrive()->size(), 0u);
  EXPECT_EQ(OutboxRows(), "0");
}

TEST_F(TaskRedriverTest, ProcessingTaskUnderExpiredLeaseIsRedrivenAndClaimable) {
  std::string id = AddTask("processing", "10 minutes", "-1 second");
  auto redriven = Redrive();
  ASSERT_TRUE(redriven.ok()) << redriven.status();
  ASSERT_EQ(redriven->size(), 1u);
  EXPECT_EQ((*redriven)[0].status, "processing");
  EXPECT_EQ((*redriven)[0].lease_owner, "w1");
  EXPECT_EQ((*redriven)[0].attempts, 1);
  EXPECT_EQ(OutboxRows(id), "1");

  // The re-driven message reaches another worker, which takes the task over.
  v1::ClaimTaskRequest claim;
  claim.set_task_id(id);
  claim.set_worker_id("w2");
  claim.set_lease_seconds(30);
  auto claimed = tasks_->ClaimTask(claim);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(claimed->response.outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(claimed->response.task().attempts(), 2);
  EXPECT_EQ(Sql("SELECT lease_owner FROM tasks"), "w2");
}

TEST_F(TaskRedriverTest, TaskWithOutboxRowWaitingGetsNoSecond) {
  std::string id = AddTask("pending", "2 minutes");
  // Not yet published (e.g. RabbitMQ is down): the relay will deliver that row.
  Sql("INSERT INTO outbox (task_id, type, request_id) VALUES ('" + id +
      "', 'delete_data', 'req-1')");
  EXPECT_EQ(Redrive()->size(), 0u);
  EXPECT_EQ(OutboxRows(id), "1");
}

TEST_F(TaskRedriverTest, FinishedTasksAreNeverRedriven) {
  AddTasks(2, "success", "1 day");
  AddTasks(2, "failure", "1 day");
  EXPECT_EQ(Redrive()->size(), 0u);
  EXPECT_EQ(OutboxRows(), "0");
}

// The same statements the repository runs, left half-way in an open transaction: another
// replica that has locked its batch but not committed. Its tasks are skipped, and once it
// commits they rest, so no task ends up with two outbox rows.
TEST_F(TaskRedriverTest, ReplicaMidRoundIsSkipped) {
  AddTasks(150, "pending", "2 minutes");
  pqxx::connection conn(dsn());
  stmt::PrepareStatements(conn);
  pqxx::work other(conn);
  std::vector<std::string> held;
  for (const pqxx::row& row : other.exec_prepared(stmt::kLockStaleTasks, 100,
                                                  absl::ToInt64Microseconds(kRedriveAfter), 5)) {
    held.push_back(row[0].as<std::string>());
  }
  ASSERT_EQ(held.size(), 100u);

  auto mine = Redrive();
  ASSERT_TRUE(mine.ok()) << mine.status();
  ASSERT_EQ(mine->size(), 50u);
  std::set<std::string> held_set(held.begin(), held.end());
  for (const RedrivenTask& t : *mine) EXPECT_EQ(held_set.count(t.task_id), 0u) << t.task_id;
  EXPECT_EQ(Redrive()->size(), 0u);  // the rest are still locked by `other`

  other.exec_prepared0(stmt::kRedriveTasks, PgArrayLiteral(held));
  other.commit();
  EXPECT_EQ(Redrive()->size(), 0u);
  EXPECT_EQ(OutboxRows(), "150");
  EXPECT_EQ(Sql("SELECT count(DISTINCT task_id) FROM outbox"), "150");
}

// Two replicas (each with its own pool) run a round at the same moment.
TEST_F(TaskRedriverTest, ConcurrentReplicasProduceNoDuplicates) {
  AddTasks(300, "pending", "2 minutes");
  std::unique_ptr<PgPool> other_pool = NewPool();
  PgTaskRepository other_tasks(*other_pool);
  TaskRedriver a(*tasks_, {.redrive_after = kRedriveAfter});
  TaskRedriver b(other_tasks, {.redrive_after = kRedriveAfter});
  // Both pools connect before the race, so the rounds overlap as closely as they can.
  ASSERT_EQ(tasks_->RedriveStaleTasks(1, absl::Hours(1))->size(), 0u);
  ASSERT_EQ(other_tasks.RedriveStaleTasks(1, absl::Hours(1))->size(), 0u);

  absl::StatusOr<int> na, nb;
  std::latch start(2);
  std::thread ta([&] {
    start.arrive_and_wait();
    na = a.RedriveOnce();
  });
  std::thread tb([&] {
    start.arrive_and_wait();
    nb = b.RedriveOnce();
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(na.ok()) << na.status();
  ASSERT_TRUE(nb.ok()) << nb.status();
  EXPECT_EQ(*na, TaskRedriver::kBatch);
  EXPECT_EQ(*nb, TaskRedriver::kBatch);
  EXPECT_EQ(OutboxRows(), "200");
  EXPECT_EQ(Sql("SELECT count(DISTINCT task_id) FROM outbox"), "200");
}

TEST_F(TaskRedriverTest, RedrivenTaskRestsForRedriveAfter) {
  for (const char* status : {"pending", "processing"}) {
    SCOPED_TRACE(status);
    Sql("DELETE FROM outbox");
    Sql("DELETE FROM tasks");
    std::string id = AddTask(status, "10 minutes", "-1 second");
    ASSERT_EQ(Redrive()->size(), 1u);
    Sql("DELETE FROM outbox");  // the relay published it
    // The message is lost again at once: the task waits for redrive_after before the next try.
    EXPECT_EQ(Redrive()->size(), 0u);
    Sql("UPDATE tasks SET updated_at = updated_at - interval '55 seconds'");
    EXPECT_EQ(Redrive()->size(), 0u);
    Sql("UPDATE tasks SET updated_at = updated_at - interval '6 seconds'");
    EXPECT_EQ(Redrive()->size(), 1u);
    EXPECT_EQ(OutboxRows(id), "1");
  }
}

TEST_F(TaskRedriverTest, OneBatchPerRound) {
  AddTasks(TaskRedriver::kBatch + 5, "pending", "2 minutes");
  TaskRedriver redriver(*tasks_, {.redrive_after = kRedriveAfter});
  EXPECT_EQ(redriver.RedriveOnce().value(), TaskRedriver::kBatch);
  EXPECT_EQ(redriver.RedriveOnce().value(), 5);
  EXPECT_EQ(redriver.RedriveOnce().value(), 0);
}

TEST_F(TaskRedriverTest, RejectsBadArguments) {
  EXPECT_EQ(tasks_->RedriveStaleTasks(0, kRedriveAfter).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tasks_->RedriveStaleTasks(1, absl::Seconds(-1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The thread's first round runs at Start(), and its outbox row wakes the relays (NOTIFY) like
// a new task's. The interval is an hour: only that first round can deliver in time, and Stop()
// must not wait the interval out.
TEST_F(TaskRedriverTest, ThreadRedrivesAtStartAndWakesTheRelay) {
  std::string id = AddTask("pending", "2 minutes");
  pqxx::connection listen(dsn());
  struct Receiver final : pqxx::notification_receiver {
    using pqxx::notification_receiver::notification_receiver;
    void operator()(const std::string&, int) override {}
  } receiver(listen, "gaze_outbox");

  TaskRedriver redriver(*tasks_, {.interval = absl::Hours(1), .redrive_after = kRedriveAfter});
  redriver.Start();
  EXPECT_GT(listen.await_notification(30, 0), 0);
  redriver.Stop();
  EXPECT_EQ(OutboxRows(id), "1");
}

// The lookup stays on the tasks in flight however many finished tasks pile up: the planner can
// answer it from the partial index (and the outbox check from its task_id index).
TEST_F(TaskRedriverTest, LookupUsesThePartialIndexes) {
  AddTask("pending", "2 minutes");
  pqxx::connection conn(dsn());
  stmt::PrepareStatements(conn);
  conn.prepare_now(stmt::kLockStaleTasks);  // libpqxx prepares on first use otherwise
  pqxx::work tx(conn);
  tx.exec("SET LOCAL enable_seqscan = off");
  std::string plan;
  for (const pqxx::row& row :
       tx.exec(std::string("EXPLAIN EXECUTE ") + stmt::kLockStaleTasks + "(100, 60000000, 5)")) {
    plan += row[0].as<std::string>() + "\n";
  }
  EXPECT_NE(plan.find("tasks_unfinished_idx"), std::string::npos) << plan;
  EXPECT_NE(plan.find("outbox_task_id_idx"), std::string::npos) << plan;
}

}  // namespace
}  // namespace gaze::metadata
