// Delayed delete against a real PostgreSQL: with a delay, DeleteImage leaves an image with data
// in pending_delete (seen by admins only) and queues its delete_data task for after the delay;
// RestoreImage (admins) brings it back and cancels that task; the scrub (the task's success)
// makes the image deleted, but never after a restore.
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "metadata-svc/outbox_relay.h"
#include "metadata-svc/pg_task_repository.h"
#include "metadata-svc/restore_client.h"
#include "metadata-svc/server.h"
#include "metadata-svc/testing/image_fixture.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

using testing::Caller;
using Code = absl::StatusCode;

class DelayedDeleteTest : public testing::ImageFixture {
 protected:
  void SetUp() override {
    ImageFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    repo_ = std::make_unique<PgImageRepository>(
        *pool_, ListLimits{25, 1000}, ImageLimits{}, ProjectQuotas{},
        LifecycleOptions{.delayed_delete = absl::Minutes(10)});
    tasks_ = std::make_unique<PgTaskRepository>(*pool_);
  }

  absl::StatusOr<DeletedImage> DeleteImage(const v1::Caller& caller, const std::string& id) {
    v1::DeleteImageRequest req;
    *req.mutable_caller() = caller;
    req.set_id(id);
    return repo_->DeleteImage(req, "req-delete");
  }

  absl::StatusOr<RestoredImage> Restore(const v1::Caller& caller, const std::string& id) {
    v1::RestoreImageRequest req;
    *req.mutable_caller() = caller;
    req.set_id(id);
    return repo_->RestoreImage(req);
  }

  absl::StatusOr<ClaimResult> Claim(const std::string& task_id, const std::string& worker) {
    v1::ClaimTaskRequest req;
    req.set_task_id(task_id);
    req.set_worker_id(worker);
    req.set_lease_seconds(30);
    return tasks_->ClaimTask(req);
  }

  absl::StatusOr<TaskOutcome> Scrubbed(const std::string& task_id, const std::string& worker,
                                       bool success = true) {
    v1::CompleteTaskRequest req;
    req.set_task_id(task_id);
    req.set_worker_id(worker);
    req.set_success(success);
    req.set_message(success ? "" : "store unreachable");
    return tasks_->CompleteTask(req);
  }

  // An active image of p1, deleted with the delay; returns its delete_data task id.
  std::string PendingDelete(std::string* image_id) {
    v1::Image img = CreateActive(Caller("p1"));
    *image_id = img.id();
    auto deleted = DeleteImage(Caller("p1"), img.id());
    EXPECT_TRUE(deleted.ok()) << deleted.status();
    return deleted.ok() ? deleted->response.task_id() : "";
  }

  std::string Col(const std::string& id, const std::string& expr) {
    return Sql("SELECT " + expr + " FROM images WHERE id = '" + id + "'");
  }
  std::string TaskCol(const std::string& id, const std::string& expr) {
    return Sql("SELECT " + expr + " FROM tasks WHERE id = '" + id + "'");
  }

  std::unique_ptr<PgTaskRepository> tasks_;
};

TEST_F(DelayedDeleteTest, DeleteWaitsInPendingDeleteSeenByAdminsOnly) {
  const v1::Caller p1 = Caller("p1");
  const v1::Caller adm = Caller("adm", true);
  v1::Image img = CreateActive(p1);
  v1::Image pub = CreateActive(p1);
  ASSERT_TRUE(Update(p1, pub.id(), [](v1::UpdateImageRequest& u) {
                u.mutable_update_mask()->add_paths("visibility");
                u.mutable_image()->set_visibility(v1::VISIBILITY_PUBLIC);
              }).ok());
  auto deleted = DeleteImage(p1, img.id());
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->status, v1::IMAGE_STATUS_PENDING_DELETE);
  const std::string task_id = deleted->response.task_id();
  ASSERT_TRUE(IsUuid(task_id));
  EXPECT_EQ(Col(img.id(), "status || ' ' || deleted || ' ' || pending_delete_task_id"),
            "pending_delete false " + task_id);
  ASSERT_TRUE(DeleteImage(p1, pub.id()).ok());

  // Gone for everyone but admins, even a public image.
  EXPECT_EQ(Get(p1, img.id()).status().code(), Code::kNotFound);
  EXPECT_EQ(Get(Caller("p2"), pub.id()).status().code(), Code::kNotFound);
  EXPECT_TRUE(ListIds(p1).empty());
  EXPECT_TRUE(ListIds(Caller("p2")).empty());
  EXPECT_EQ(Delete(p1, img.id()).status().code(), Code::kNotFound);
  auto seen = Get(adm, img.id());
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->status(), v1::IMAGE_STATUS_PENDING_DELETE);
  EXPECT_EQ(seen->locations_size(), 1);
  // Listed only to an admin who asks for that status (Glance).
  EXPECT_TRUE(ListIds(adm).empty());
  auto pending = [](v1::ListImagesRequest& r) {
    r.mutable_filter()->add_statuses(v1::IMAGE_STATUS_PENDING_DELETE);
  };
  EXPECT_EQ(ListIds(adm, pending), (std::set<std::string>{img.id(), pub.id()}));
  EXPECT_TRUE(ListIds(p1, pending).empty());

  // The data's delete_data task waits for the delay: its outbox row is due in 10 minutes.
  EXPECT_EQ(TaskCol(task_id, "type || ' ' || status || ' ' || (input->'urls')::text"),
            "delete_data pending [\"file:///data/" + img.id() + "\"]");
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox WHERE task_id = '" + task_id + "'"), "1");
  EXPECT_EQ(Sql("SELECT not_before BETWEEN now() + interval '9 minutes' AND "
                "now() + interval '11 minutes' FROM outbox WHERE task_id = '" +
                task_id + "'"),
            "t");
  // The relay's own query leaves it alone until then.
  const std::string due = absl::StrReplaceAll(OutboxRelay::kLockBatchSql, {{"$1", "100"}});
  EXPECT_EQ(Sql(due), "");
  Sql("UPDATE outbox SET not_before = now() - interval '1 second' WHERE task_id = '" + task_id +
      "'");
  EXPECT_NE(Sql(due), "");
  Sql("UPDATE outbox SET not_before = now() + interval '10 minutes' WHERE task_id = '" + task_id +
      "'");
  // The re-driver does not hurry it (its outbox row is still waiting).
  Sql("UPDATE tasks SET updated_at = now() - interval '1 hour' WHERE id = '" + task_id + "'");
  auto redriven = tasks_->RedriveStaleTasks(10, absl::Minutes(1));
  ASSERT_TRUE(redriven.ok());
  EXPECT_TRUE(redriven->empty());
}

TEST_F(DelayedDeleteTest, ImageWithoutDataIsDeletedAtOnce) {
  const v1::Caller p1 = Caller("p1");
  v1::Image img = Create(p1);
  auto deleted = DeleteImage(p1, img.id());
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->status, v1::IMAGE_STATUS_DELETED);
  EXPECT_EQ(deleted->response.task_id(), "");
  EXPECT_EQ(Col(img.id(), "status || ' ' || deleted"), "deleted true");
  EXPECT_EQ(Restore(Caller("adm", true), img.id()).status().code(), Code::kNotFound);
  EXPECT_EQ(Sql("SELECT count(*) FROM tasks"), "0");
}

TEST_F(DelayedDeleteTest, AdminRestoresAndTheScrubCanNoLongerDeleteIt) {
  const v1::Caller p1 = Caller("p1");
  const v1::Caller adm = Caller("adm", true);
  std::string image_id;
  const std::string task_id = PendingDelete(&image_id);
  // Not the owner, not another project: only an admin restores.
  EXPECT_EQ(Restore(p1, image_id).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(Restore(Caller("p2"), image_id).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(Col(image_id, "status"), "pending_delete");
  EXPECT_EQ(Restore(adm, NewUuid()).status().code(), Code::kNotFound);

  auto restored = Restore(adm, image_id);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->cancelled_task_id, task_id);
  EXPECT_EQ(restored->image.status(), v1::IMAGE_STATUS_ACTIVE);
  ASSERT_EQ(restored->image.locations_size(), 1);
  EXPECT_EQ(restored->image.locations(0).url(), "file:///data/" + image_id);
  EXPECT_EQ(restored->image.size(), 1024);
  EXPECT_EQ(Col(image_id, "pending_delete_task_id IS NULL"), "t");
  // Its task is over and its message will not go out.
  EXPECT_EQ(TaskCol(task_id, "status || ' ' || message"), "failure restored");
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox WHERE task_id = '" + task_id + "'"), "0");
  // The owner has it back.
  auto got = Get(p1, image_id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status(), v1::IMAGE_STATUS_ACTIVE);
  EXPECT_EQ(ListIds(p1), std::set<std::string>{image_id});

  // A message published before the restore reaches a worker: nothing to do, nothing deleted.
  auto c = Claim(task_id, "w1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->response.outcome(), v1::CLAIM_OUTCOME_FINISHED);
  EXPECT_EQ(Scrubbed(task_id, "w1").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Col(image_id, "status || ' ' || deleted"), "active false");
  // Restoring twice is a conflict, not a second effect.
  EXPECT_EQ(Restore(adm, image_id).status().code(), Code::kFailedPrecondition);

  // Deleted again, it waits again with a new task; the old one still cannot scrub it.
  std::string again_task;
  {
    auto again = DeleteImage(p1, image_id);
    ASSERT_TRUE(again.ok()) << again.status();
    again_task = again->response.task_id();
  }
  EXPECT_NE(again_task, task_id);
  EXPECT_EQ(Claim(task_id, "w1")->response.outcome(), v1::CLAIM_OUTCOME_FINISHED);
  EXPECT_EQ(Col(image_id, "status"), "pending_delete");
  ASSERT_EQ(Claim(again_task, "w2")->response.outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  auto scrub = Scrubbed(again_task, "w2");
  ASSERT_TRUE(scrub.ok()) << scrub.status();
  EXPECT_EQ(scrub->image_status, v1::IMAGE_STATUS_DELETED);
  EXPECT_EQ(Col(image_id, "status || ' ' || deleted"), "deleted true");
}

TEST_F(DelayedDeleteTest, ScrubOfAnOlderTaskNeverDeletesTheImage) {
  const v1::Caller adm = Caller("adm", true);
  std::string image_id;
  const std::string first = PendingDelete(&image_id);
  ASSERT_TRUE(Restore(adm, image_id).ok());
  const std::string second = DeleteImage(Caller("p1"), image_id)->response.task_id();
  // Even a worker that somehow still held the first task (as only SQL can arrange) deletes
  // its data, but not the image that now waits for the second.
  Sql("UPDATE tasks SET status = 'processing', lease_owner = 'w1', "
      "lease_expires_at = now() + interval '1 minute' WHERE id = '" +
      first + "'");
  auto scrub = Scrubbed(first, "w1");
  ASSERT_TRUE(scrub.ok()) << scrub.status();
  EXPECT_EQ(scrub->image_status, v1::IMAGE_STATUS_UNSPECIFIED);
  EXPECT_EQ(Col(image_id, "status || ' ' || pending_delete_task_id"), "pending_delete " + second);
}

TEST_F(DelayedDeleteTest, RestoreIsRefusedOnceTheScrubStarted) {
  const v1::Caller adm = Caller("adm", true);
  std::string image_id;
  const std::string task_id = PendingDelete(&image_id);
  ASSERT_EQ(Claim(task_id, "w1")->response.outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  auto r = Restore(adm, image_id);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status();
  EXPECT_EQ(Col(image_id, "status"), "pending_delete");
  EXPECT_EQ(TaskCol(task_id, "status"), "processing");

  // A failed scrub leaves the image waiting (for an operator), still not restorable: the data
  // may be partly gone.
  auto failed = Scrubbed(task_id, "w1", /*success=*/false);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->image_status, v1::IMAGE_STATUS_UNSPECIFIED);
  EXPECT_EQ(Col(image_id, "status || ' ' || deleted"), "pending_delete false");
  EXPECT_EQ(Restore(adm, image_id).status().code(), Code::kFailedPrecondition);
}

TEST_F(DelayedDeleteTest, ScrubMakesTheImageDeletedForGood) {
  const v1::Caller adm = Caller("adm", true);
  std::string image_id;
  const std::string task_id = PendingDelete(&image_id);
  ASSERT_EQ(Claim(task_id, "w1")->response.outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  auto scrub = Scrubbed(task_id, "w1");
  ASSERT_TRUE(scrub.ok()) << scrub.status();
  EXPECT_EQ(scrub->status, v1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(scrub->image_status, v1::IMAGE_STATUS_DELETED);
  EXPECT_EQ(Col(image_id, "status || ' ' || deleted"), "deleted true");
  EXPECT_EQ(Get(adm, image_id).status().code(), Code::kNotFound);
  EXPECT_EQ(Restore(adm, image_id).status().code(), Code::kNotFound);
  // The same message again: finished, no effect.
  EXPECT_EQ(Claim(task_id, "w2")->response.outcome(), v1::CLAIM_OUTCOME_FINISHED);
  EXPECT_EQ(Scrubbed(task_id, "w1").status().code(), Code::kFailedPrecondition);
}

TEST_F(DelayedDeleteTest, AdminDeleteOfAPendingImageEndsTheWaitButNotTheScrub) {
  const v1::Caller adm = Caller("adm", true);
  std::string image_id;
  const std::string task_id = PendingDelete(&image_id);
  auto deleted = DeleteImage(adm, image_id);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->status, v1::IMAGE_STATUS_DELETED);
  EXPECT_EQ(deleted->response.task_id(), task_id);
  EXPECT_EQ(Col(image_id, "status || ' ' || deleted"), "deleted true");
  EXPECT_EQ(Sql("SELECT count(*) FROM tasks"), "1");  // no second delete_data task
  EXPECT_EQ(TaskCol(task_id, "status"), "pending");
  EXPECT_EQ(Restore(adm, image_id).status().code(), Code::kNotFound);
  // The data still goes when the delay is over.
  ASSERT_EQ(Claim(task_id, "w1")->response.outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  auto scrub = Scrubbed(task_id, "w1");
  ASSERT_TRUE(scrub.ok()) << scrub.status();
  EXPECT_EQ(scrub->status, v1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(scrub->image_status, v1::IMAGE_STATUS_UNSPECIFIED);
}

TEST_F(DelayedDeleteTest, WithoutADelayDeleteIsImmediate) {
  repo_ = std::make_unique<PgImageRepository>(*pool_, ListLimits{25, 1000});
  const v1::Caller p1 = Caller("p1");
  v1::Image img = CreateActive(p1);
  auto deleted = DeleteImage(p1, img.id());
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->status, v1::IMAGE_STATUS_DELETED);
  EXPECT_EQ(Col(img.id(), "status || ' ' || deleted"), "deleted true");
  EXPECT_EQ(Sql("SELECT not_before <= now() FROM outbox WHERE task_id = '" +
                deleted->response.task_id() + "'"),
            "t");
  EXPECT_EQ(Restore(Caller("adm", true), img.id()).status().code(), Code::kNotFound);
}

TEST_F(DelayedDeleteTest, RestoreCommandGoesThroughTheService) {
  auto server = MetadataServer::Start({.listen_address = "127.0.0.1", .port = 0}, *repo_, *tasks_);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string target = "127.0.0.1:" + std::to_string((*server)->port());
  std::string image_id;
  const std::string task_id = PendingDelete(&image_id);
  auto restored = RestoreImageAt(target, image_id, "req-restore", absl::Seconds(10));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id(), image_id);
  EXPECT_EQ(restored->status(), v1::IMAGE_STATUS_ACTIVE);
  EXPECT_EQ(TaskCol(task_id, "status"), "failure");
  // Errors come back as values with their codes.
  EXPECT_EQ(RestoreImageAt(target, image_id, "req-restore", absl::Seconds(10)).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(RestoreImageAt(target, NewUuid(), "req-restore", absl::Seconds(10)).status().code(),
            Code::kNotFound);
}

}  // namespace
}  // namespace gaze::metadata
