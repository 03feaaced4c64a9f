// PgTaskRepository against a real PostgreSQL: every ClaimTask outcome and CompleteTask's
// compare-and-set on the lease holder.
#include "gtest/gtest.h"
#include "metadata-svc/pg_image_repository.h"
#include "metadata-svc/pg_task_repository.h"
#include "metadata-svc/testing/test_database.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

class TaskRepositoryTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pool_ = NewPool();
    tasks_ = std::make_unique<PgTaskRepository>(*pool_);
    // A delete_data task, made the way production makes them: deleting an image with bytes.
    image_id_ = NewUuid();
    Sql("INSERT INTO images (id, status, visibility, owner, created_at, updated_at, locations) "
        "VALUES ('" +
        image_id_ +
        "', 'active', 'private', 'p1', now(), now(), "
        "'[{\"url\": \"file:///d/1\", \"metadata\": {}}]')");
    PgImageRepository images(*pool_, ListLimits{});
    v1::DeleteImageRequest del;
    del.mutable_caller()->set_project_id("p1");
    del.set_id(image_id_);
    auto r = images.DeleteImage(del, "req-1");
    ASSERT_TRUE(r.ok()) << r.status();
    task_id_ = r->response.task_id();
  }

  absl::StatusOr<v1::ClaimTaskResponse> Claim(const std::string& worker, int lease = 30) {
    v1::ClaimTaskRequest req;
    req.set_task_id(task_id_);
    req.set_worker_id(worker);
    req.set_lease_seconds(lease);
    auto claimed = tasks_->ClaimTask(req);
    if (!claimed.ok()) return claimed.status();
    return claimed->response;
  }

  absl::StatusOr<v1::TaskStatus> Finish(const std::string& worker, bool success) {
    v1::CompleteTaskRequest req;
    req.set_task_id(task_id_);
    req.set_worker_id(worker);
    req.set_success(success);
    req.set_message(success ? "" : "store unreachable");
    auto completed = tasks_->CompleteTask(req);
    if (!completed.ok()) return completed.status();
    return completed->status;
  }

  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgTaskRepository> tasks_;
  std::string image_id_;
  std::string task_id_;
};

TEST_F(TaskRepositoryTest, ClaimOutcomes) {
  auto c = Claim("w1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(c->task().id(), task_id_);
  EXPECT_EQ(c->task().type(), v1::TASK_TYPE_DELETE_DATA);
  EXPECT_EQ(c->task().status(), v1::TASK_STATUS_PROCESSING);
  EXPECT_EQ(c->task().image_id(), image_id_);
  EXPECT_EQ(c->task().request_id(), "req-1");
  EXPECT_EQ(c->task().attempts(), 1);
  ASSERT_EQ(c->task().delete_data().urls_size(), 1);
  EXPECT_EQ(c->task().delete_data().urls(0), "file:///d/1");

  EXPECT_EQ(Claim("w2")->outcome(), v1::CLAIM_OUTCOME_LEASED_ELSEWHERE);
  c = Claim("w1");  // the same worker again (a redelivery): still its task
  EXPECT_EQ(c->outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(c->task().attempts(), 2);

  // w1 dies: once its lease expires, w2 takes over and w1 can no longer finish.
  Sql("UPDATE tasks SET lease_expires_at = now() - interval '1 second'");
  c = Claim("w2");
  EXPECT_EQ(c->outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(c->task().attempts(), 3);
  EXPECT_EQ(Finish("w1", true).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Finish("w2", true).value(), v1::TASK_STATUS_SUCCESS);

  c = Claim("w3");
  EXPECT_EQ(c->outcome(), v1::CLAIM_OUTCOME_FINISHED);
  EXPECT_EQ(c->task().status(), v1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(Finish("w2", true).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      Sql("SELECT count(*) FROM tasks WHERE lease_owner IS NULL AND lease_expires_at IS NULL"),
      "1");
}

// A worker that failed transiently gives the task up before requeueing its message: the next
// delivery, on any worker, takes it over at once instead of waiting for the lease to run out.
TEST_F(TaskRepositoryTest, RenewingWithNoLeaseGivesTheTaskUp) {
  ASSERT_EQ(Claim("w1")->outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(Claim("w2")->outcome(), v1::CLAIM_OUTCOME_LEASED_ELSEWHERE);
  v1::RenewTaskRequest release;
  release.set_task_id(task_id_);
  release.set_worker_id("w2");  // not the holder: nothing changes
  EXPECT_EQ(tasks_->RenewTask(release).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Claim("w2")->outcome(), v1::CLAIM_OUTCOME_LEASED_ELSEWHERE);
  release.set_worker_id("w1");
  ASSERT_TRUE(tasks_->RenewTask(release).ok());
  auto c = Claim("w2");
  EXPECT_EQ(c->outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(c->task().attempts(), 2);
  EXPECT_EQ(Finish("w1", true).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Finish("w2", true).value(), v1::TASK_STATUS_SUCCESS);
  release.set_lease_seconds(-1);
  EXPECT_EQ(tasks_->RenewTask(release).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TaskRepositoryTest, FailureIsRecordedWithItsMessage) {
  ASSERT_EQ(Claim("w1")->outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(Finish("w1", false).value(), v1::TASK_STATUS_FAILURE);
  auto c = Claim("w1");
  EXPECT_EQ(c->outcome(), v1::CLAIM_OUTCOME_FINISHED);
  EXPECT_EQ(c->task().message(), "store unreachable");
}

TEST_F(TaskRepositoryTest, UnknownTasksAndBadRequests) {
  task_id_ = NewUuid();
  EXPECT_EQ(Claim("w1").status().code(), absl::StatusCode::kNotFound);
  task_id_ = "nope";
  EXPECT_EQ(Claim("w1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Finish("w1", true).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Claim("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Claim("w1", 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gaze::metadata
