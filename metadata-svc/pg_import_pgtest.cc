// Interoperable import against a real PostgreSQL: StartImport (status, formats, the import lock,
// quotas, the task and its outbox row in one transaction), the import task's life on the worker
// side (claim, RenewTask with progress, FinishImport's success, failure, replay and lost lease,
// the poison limit) and how ListTasks/GetTask show tasks. Ages are written in SQL, never slept.
#include "gtest/gtest.h"
#include "metadata-svc/pg_statements.h"
#include "metadata-svc/pg_task_repository.h"
#include "metadata-svc/testing/image_fixture.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

using testing::Caller;
using Code = absl::StatusCode;

constexpr int kMaxAttempts = 3;
constexpr int64_t kStagedSize = 3000;

class ImportTest : public testing::ImageFixture {
 protected:
  void SetUp() override {
    ImageFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    tasks_ = std::make_unique<PgTaskRepository>(
        *pool_, TaskPolicy{.max_attempts = kMaxAttempts, .time_to_live = absl::Hours(48)},
        ListLimits{25, 1000});
  }

  static void Formats(v1::Image& i) {
    i.set_disk_format("qcow2");
    i.set_container_format("bare");
  }

  absl::StatusOr<v1::BeginUploadResponse> BeginStage(const v1::Caller& caller,
                                                     const std::string& id,
                                                     const std::string& upload_id = "s1") {
    v1::BeginUploadRequest req;
    *req.mutable_caller() = caller;
    req.set_id(id);
    req.set_upload_id(upload_id);
    req.set_object_url(StagingUrl(id));
    req.set_holder("gw-1");
    req.set_lease_seconds(60);
    req.set_target(v1::UPLOAD_TARGET_STAGING);
    return repo_->BeginUpload(req);
  }

  static std::string StagingUrl(const std::string& id) { return "file:///staging/" + id; }

  absl::StatusOr<v1::Image> CompleteStage(const std::string& id,
                                          const std::string& upload_id = "s1",
                                          int64_t size = kStagedSize) {
    v1::CompleteUploadRequest req;
    req.set_id(id);
    req.set_upload_id(upload_id);
    req.set_size(size);
    req.mutable_location()->set_url(StagingUrl(id));
    return repo_->CompleteUpload(req);
  }

  // An image of `caller`'s project with data staged (uploading), ready for glance-direct.
  v1::Image Staged(const v1::Caller& caller, bool with_formats = true) {
    v1::Image img = with_formats ? Create(caller, Formats) : Create(caller);
    EXPECT_TRUE(BeginStage(caller, img.id()).ok());
    auto staged = CompleteStage(img.id());
    EXPECT_TRUE(staged.ok()) << staged.status();
    return staged.ok() ? *staged : img;
  }

  absl::StatusOr<StartedImport> Import(const v1::Caller& caller, const std::string& id,
                                       v1::ImportMethod method = v1::IMPORT_METHOD_GLANCE_DIRECT,
                                       const std::string& uri = "") {
    v1::StartImportRequest req;
    *req.mutable_caller() = caller;
    req.set_id(id);
    req.set_method(method);
    req.set_uri(uri);
    req.set_request_json(R"({"method": {"name": "glance-direct"}})");
    return repo_->StartImport(req, "req-import");
  }

  // Starts a glance-direct import of a freshly staged image of `caller`; returns the task id.
  std::string StartedTask(const v1::Caller& caller, std::string* image_id = nullptr) {
    v1::Image img = Staged(caller);
    auto started = Import(caller, img.id());
    EXPECT_TRUE(started.ok()) << started.status();
    if (image_id != nullptr) *image_id = img.id();
    return started.ok() ? started->response.task_id() : "";
  }

  absl::StatusOr<ClaimResult> Claim(const std::string& task_id, const std::string& worker) {
    v1::ClaimTaskRequest req;
    req.set_task_id(task_id);
    req.set_worker_id(worker);
    req.set_lease_seconds(30);
    return tasks_->ClaimTask(req);
  }

  absl::Status Renew(const std::string& task_id, const std::string& worker, int lease_seconds,
                     const std::string& stage, int64_t done, int64_t total) {
    v1::RenewTaskRequest req;
    req.set_task_id(task_id);
    req.set_worker_id(worker);
    req.set_lease_seconds(lease_seconds);
    req.mutable_progress()->set_stage(stage);
    req.mutable_progress()->set_bytes_done(done);
    req.mutable_progress()->set_bytes_total(total);
    req.set_message("Copied " + std::to_string(done) + " bytes");
    return tasks_->RenewTask(req);
  }

  static std::string StoredUrl(const std::string& task_id) { return "file:///data/" + task_id; }

  v1::FinishImportRequest Success(const std::string& task_id, const std::string& worker) {
    v1::FinishImportRequest req;
    req.set_task_id(task_id);
    req.set_worker_id(worker);
    req.set_success(true);
    req.set_message("imported");
    req.set_size(4096);
    req.set_checksum("md5sum");
    req.set_os_hash_algo("sha512");
    req.set_os_hash_value("shasum");
    req.set_virtual_size(10240);
    req.set_disk_format("raw");
    req.set_container_format("bare");
    req.mutable_location()->set_url(StoredUrl(task_id));
    (*req.mutable_location()->mutable_metadata())["store"] = "file";
    (*req.mutable_set_properties())["injected"] = "yes";
    (*req.mutable_set_properties())["os_glance_sneaky"] = "no";
    req.add_discard_urls("file:///tmp/" + task_id + ".converted");
    return req;
  }

  v1::FinishImportRequest Failure(const std::string& task_id, const std::string& worker) {
    v1::FinishImportRequest req;
    req.set_task_id(task_id);
    req.set_worker_id(worker);
    req.set_success(false);
    req.set_message("qcow2 has a backing file");
    req.add_discard_urls("file:///tmp/" + task_id + ".converted");
    return req;
  }

  absl::StatusOr<v1::Task> GetTask(const v1::Caller& caller, const std::string& id) {
    v1::GetTaskRequest req;
    *req.mutable_caller() = caller;
    req.set_id(id);
    return tasks_->GetTask(req);
  }

  absl::StatusOr<v1::ListTasksResponse> ListTasks(
      const v1::Caller& caller, const std::function<void(v1::ListTasksRequest&)>& edit = {}) {
    v1::ListTasksRequest req;
    *req.mutable_caller() = caller;
    if (edit) edit(req);
    return tasks_->ListTasks(req);
  }

  // The ids ListTasks returns in order, or the error's code name.
  std::vector<std::string> TaskIds(const v1::Caller& caller,
                                   const std::function<void(v1::ListTasksRequest&)>& edit = {}) {
    auto r = ListTasks(caller, edit);
    if (!r.ok()) return {absl::StatusCodeToString(r.status().code())};
    std::vector<std::string> ids;
    for (const v1::Task& t : r->tasks()) ids.push_back(t.id());
    return ids;
  }

  std::string Col(const std::string& id, const std::string& expr) {
    return Sql("SELECT " + expr + " FROM images WHERE id = '" + id + "'");
  }
  std::string TaskCol(const std::string& id, const std::string& expr) {
    return Sql("SELECT " + expr + " FROM tasks WHERE id = '" + id + "'");
  }
  std::string Outbox(const std::string& task_id) {
    return Sql("SELECT count(*) FROM outbox WHERE task_id = '" + task_id + "'");
  }
  // The urls of delete_data tasks about `image_id`, sorted and joined.
  std::string Cleanups(const std::string& image_id) {
    return Sql(
        "SELECT string_agg(u, ' ' ORDER BY u) FROM tasks t, "
        "jsonb_array_elements_text(t.input->'urls') u WHERE t.type = 'delete_data' AND "
        "t.image_id = '" +
        image_id + "'");
  }
  std::string TaskCount() { return Sql("SELECT count(*) FROM tasks"); }
  // Ages task `id` (pending or leased) so that its lease is expired.
  void ExpireLease(const std::string& id) {
    Sql("UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE id = '" + id + "'");
  }

  std::unique_ptr<PgTaskRepository> tasks_;
};

// ---- StartImport -------------------------------------------------------------------------

TEST_F(ImportTest, GlanceDirectNeedsStagedData) {
  const v1::Caller p1 = Caller("p1");
  v1::Image img = Create(p1, Formats);
  // Queued: nothing staged.
  auto r = Import(p1, img.id());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status();
  // Staging in progress: uploading, but no staged object yet.
  ASSERT_TRUE(BeginStage(p1, img.id()).ok());
  EXPECT_EQ(Col(img.id(), "status"), "uploading");
  r = Import(p1, img.id());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status();
  EXPECT_EQ(TaskCount(), "0");

  auto staged = CompleteStage(img.id());
  ASSERT_TRUE(staged.ok()) << staged.status();
  EXPECT_EQ(staged->status(), v1::IMAGE_STATUS_UPLOADING);
  EXPECT_EQ(staged->size(), kStagedSize);
  EXPECT_EQ(Col(img.id(), "staging_url"), StagingUrl(img.id()));
  // web-download wants queued.
  EXPECT_EQ(Import(p1, img.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://x/y").status().code(),
            Code::kFailedPrecondition);

  r = Import(p1, img.id());
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string task_id = r->response.task_id();
  EXPECT_TRUE(IsUuid(task_id));
  EXPECT_TRUE(r->preempted_task_id.empty());
  EXPECT_EQ(r->response.image().status(), v1::IMAGE_STATUS_IMPORTING);
  EXPECT_EQ(r->response.image().properties().at(stmt::kImportLockProperty), task_id);
  EXPECT_EQ(r->response.image().version(), staged->version() + 1);
  EXPECT_EQ(Col(img.id(), "status"), "importing");
  EXPECT_EQ(Col(img.id(), "properties->>'os_glance_import_task'"), task_id);
  // The staged object stays until the import ends.
  EXPECT_EQ(Col(img.id(), "staging_url"), StagingUrl(img.id()));

  // Exactly one task, with exactly one outbox row, due at once.
  EXPECT_EQ(TaskCount(), "1");
  EXPECT_EQ(Outbox(task_id), "1");
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "1");
  EXPECT_EQ(Sql("SELECT not_before <= now() FROM outbox WHERE task_id = '" + task_id + "'"), "t");
  auto task = GetTask(p1, task_id);
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->type(), v1::TASK_TYPE_IMPORT);
  EXPECT_EQ(task->status(), v1::TASK_STATUS_PENDING);
  EXPECT_EQ(task->image_id(), img.id());
  EXPECT_EQ(task->owner(), "p1");
  EXPECT_EQ(task->request_id(), "req-import");
  EXPECT_EQ(task->import().method(), v1::IMPORT_METHOD_GLANCE_DIRECT);
  EXPECT_EQ(task->import().staging_url(), StagingUrl(img.id()));
  EXPECT_EQ(task->import().disk_format(), "qcow2");
  EXPECT_EQ(task->import().container_format(), "bare");
  EXPECT_NE(task->input_json().find("glance-direct"), std::string::npos) << task->input_json();
  EXPECT_FALSE(task->has_expires_at());
}

TEST_F(ImportTest, WebDownloadStartsFromQueued) {
  const v1::Caller p1 = Caller("p1");
  v1::Image img = Create(p1, Formats);
  EXPECT_EQ(Import(p1, img.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "").status().code(),
            Code::kInvalidArgument);
  auto r = Import(p1, img.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://example.com/i.qcow2");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.image().status(), v1::IMAGE_STATUS_IMPORTING);
  auto task = GetTask(p1, r->response.task_id());
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->import().method(), v1::IMPORT_METHOD_WEB_DOWNLOAD);
  EXPECT_EQ(task->import().uri(), "http://example.com/i.qcow2");
  EXPECT_EQ(task->import().staging_url(), "");
  EXPECT_EQ(Outbox(r->response.task_id()), "1");
}

TEST_F(ImportTest, MethodAndStatusChecks) {
  const v1::Caller p1 = Caller("p1");
  v1::Image active = CreateActive(p1);
  for (auto method : {v1::IMPORT_METHOD_GLANCE_DIRECT, v1::IMPORT_METHOD_WEB_DOWNLOAD}) {
    auto r = Import(p1, active.id(), method, "http://x/y");
    EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << method;
    EXPECT_EQ(r.status().message(), "Image with status active cannot be target for import");
  }
  // One store: copy-image has nowhere to copy to; on a queued image it is a conflict too.
  EXPECT_EQ(Import(p1, active.id(), v1::IMPORT_METHOD_COPY_IMAGE).status().code(),
            Code::kFailedPrecondition);
  v1::Image queued = Create(p1, Formats);
  EXPECT_EQ(Import(p1, queued.id(), v1::IMPORT_METHOD_COPY_IMAGE).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(Import(p1, queued.id(), v1::IMPORT_METHOD_GLANCE_DOWNLOAD).status().code(),
            Code::kUnimplemented);
  EXPECT_EQ(Import(p1, queued.id(), v1::IMPORT_METHOD_UNSPECIFIED).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Import(p1, queued.id(), static_cast<v1::ImportMethod>(42)).status().code(),
            Code::kInvalidArgument);
  // A request body that is not a JSON object is refused before anything happens.
  v1::StartImportRequest bad;
  *bad.mutable_caller() = p1;
  bad.set_id(queued.id());
  bad.set_method(v1::IMPORT_METHOD_WEB_DOWNLOAD);
  bad.set_uri("http://x/y");
  bad.set_request_json("[1, 2]");
  EXPECT_EQ(repo_->StartImport(bad, "r").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Import(p1, "not-a-uuid").status().code(), Code::kNotFound);
  EXPECT_EQ(Import(p1, NewUuid()).status().code(), Code::kNotFound);
  EXPECT_EQ(TaskCount(), "0");
  EXPECT_EQ(Col(queued.id(), "status"), "queued");
}

TEST_F(ImportTest, FormatsAreRequired) {
  const v1::Caller p1 = Caller("p1");
  v1::Image no_disk = Create(p1, [](v1::Image& i) { i.set_container_format("bare"); });
  auto r = Import(p1, no_disk.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://x/y");
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "'disk_format' needs to be set before import");
  v1::Image no_container = Create(p1, [](v1::Image& i) { i.set_disk_format("raw"); });
  r = Import(p1, no_container.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://x/y");
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "'container_format' needs to be set before import");
  // Staging needs no formats, but the import of the staged data does.
  v1::Image staged = Staged(p1, /*with_formats=*/false);
  EXPECT_EQ(staged.status(), v1::IMAGE_STATUS_UPLOADING);
  EXPECT_EQ(Import(p1, staged.id()).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Col(staged.id(), "status"), "uploading");
  EXPECT_EQ(Col(staged.id(), "properties ? 'os_glance_import_task'"), "f");
  EXPECT_EQ(TaskCount(), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "0");
  // Nor can they be set any more (Glance: formats change only while queued): such an image
  // can only be deleted.
  auto set = Update(p1, staged.id(), [](v1::UpdateImageRequest& u) {
    u.mutable_update_mask()->add_paths("disk_format");
    u.mutable_update_mask()->add_paths("container_format");
    Formats(*u.mutable_image());
  });
  EXPECT_EQ(set.status().code(), Code::kPermissionDenied) << set.status();
  // With them set before staging, the same steps import.
  EXPECT_TRUE(Import(p1, Staged(p1).id()).ok());
}

TEST_F(ImportTest, SecondImportWhileLockedIsRefused) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string first = StartedTask(p1, &image_id);
  const std::string version = Col(image_id, "version");
  for (auto method : {v1::IMPORT_METHOD_GLANCE_DIRECT, v1::IMPORT_METHOD_WEB_DOWNLOAD}) {
    EXPECT_EQ(Import(p1, image_id, method, "http://x/y").status().code(),
              Code::kFailedPrecondition);
    EXPECT_EQ(Import(Caller("adm", true), image_id, method, "http://x/y").status().code(),
              Code::kFailedPrecondition);
  }
  // The lock itself refuses, whatever the status says: an image back in uploading (as only SQL
  // can put it) whose lock names a live task.
  Sql("UPDATE images SET status = 'uploading' WHERE id = '" + image_id + "'");
  auto r = Import(p1, image_id);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "Image has active task");
  // Also while the worker holds it, renewing (updated_at fresh).
  ASSERT_TRUE(Claim(first, "w1").ok());
  EXPECT_EQ(Import(p1, image_id).status().message(), "Image has active task");
  EXPECT_EQ(Col(image_id, "version"), version);
  EXPECT_EQ(TaskCount(), "1");
  EXPECT_EQ(Col(image_id, "properties->>'os_glance_import_task'"), first);
}

TEST_F(ImportTest, StaleLockIsBrokenAndItsTaskFailed) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string old = StartedTask(p1, &image_id);
  // The holder went silent for longer than Glance's lock expiry (two hours pending), and the
  // image is ready for a new import (status as only SQL can leave it).
  Sql("UPDATE tasks SET updated_at = now() - interval '121 minutes' WHERE id = '" + old + "'");
  Sql("UPDATE images SET status = 'uploading' WHERE id = '" + image_id + "'");
  auto r = Import(p1, image_id);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->preempted_task_id, old);
  const std::string fresh = r->response.task_id();
  EXPECT_NE(fresh, old);
  EXPECT_EQ(Col(image_id, "properties->>'os_glance_import_task'"), fresh);
  EXPECT_EQ(TaskCol(old, "status || ' ' || message"), "failure Expired lock preempted");
  EXPECT_EQ(Outbox(old), "0");  // its message will not go out
  EXPECT_EQ(Outbox(fresh), "1");
  // Its worker, should it wake up, finds it over.
  auto c = Claim(old, "w1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->response.outcome(), v1::CLAIM_OUTCOME_FINISHED);

  // A processing holder is stale after one hour without a renewal; 59 minutes is not enough.
  ASSERT_TRUE(Claim(fresh, "w2").ok());
  Sql("UPDATE tasks SET updated_at = now() - interval '59 minutes' WHERE id = '" + fresh + "'");
  Sql("UPDATE images SET status = 'uploading' WHERE id = '" + image_id + "'");
  EXPECT_EQ(Import(p1, image_id).status().message(), "Image has active task");
  Sql("UPDATE tasks SET updated_at = now() - interval '61 minutes' WHERE id = '" + fresh + "'");
  r = Import(p1, image_id);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->preempted_task_id, fresh);
  EXPECT_EQ(TaskCol(fresh, "status"), "failure");
  // The preempted worker's lease is gone with it: it can neither renew nor finish.
  EXPECT_EQ(Renew(fresh, "w2", 30, "storing", 1, 2).code(), Code::kFailedPrecondition);
  EXPECT_EQ(tasks_->FinishImport(Success(fresh, "w2")).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Col(image_id, "status"), "importing");
}

TEST_F(ImportTest, LockOfAFinishedOrMissingTaskIsNoLock) {
  const v1::Caller p1 = Caller("p1");
  v1::Image img = Create(p1, Formats);
  // A leftover lock naming no task, then one naming a finished task.
  Sql("UPDATE images SET properties = properties || "
      "'{\"os_glance_import_task\": \"garbage\"}' WHERE id = '" +
      img.id() + "'");
  auto r = Import(p1, img.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://x/y");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->preempted_task_id, "garbage");
  const std::string first = r->response.task_id();
  EXPECT_EQ(r->response.image().properties().at(stmt::kImportLockProperty), first);
  ASSERT_TRUE(Claim(first, "w1").ok());
  // A success that left the lock behind (as only SQL can).
  Sql("UPDATE tasks SET status = 'success', lease_owner = NULL WHERE id = '" + first + "'");
  Sql("UPDATE images SET status = 'queued' WHERE id = '" + img.id() + "'");
  r = Import(p1, img.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://x/y");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->preempted_task_id, first);
  EXPECT_EQ(TaskCol(first, "status"), "success");  // left as it was
}

TEST_F(ImportTest, OnlyTheOwnerOrAnAdminImports) {
  const v1::Caller p1 = Caller("p1");
  v1::Image priv = Staged(p1);
  auto r = Import(Caller("p2"), priv.id());
  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status();
  // A public image is visible to p2, who still may not import into it.
  v1::Image pub = Create(p1, [](v1::Image& i) {
    Formats(i);
    i.set_visibility(v1::VISIBILITY_PUBLIC);
  });
  EXPECT_EQ(
      Import(Caller("p2"), pub.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://x/y").status().code(),
      Code::kPermissionDenied);
  EXPECT_EQ(TaskCount(), "0");
  EXPECT_EQ(Col(priv.id(), "status"), "uploading");
  // An admin may; the task belongs to the image's project.
  r = Import(Caller("adm", true), priv.id());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(TaskCol(r->response.task_id(), "owner"), "p1");
}

TEST_F(ImportTest, QuotasAreCheckedBeforeAnythingChanges) {
  auto quotas =
      ProjectQuotas::Parse(R"({"defaults": {"image_count_uploading": 1, "image_size_total": 1}})");
  ASSERT_TRUE(quotas.ok()) << quotas.status();
  UseLimits({}, *quotas);
  const v1::Caller p1 = Caller("p1");
  // glance-direct adds the staged bytes to image_size_total (1 MiB): 2 MiB staged do not fit.
  v1::Image big = Create(p1, Formats);
  ASSERT_TRUE(BeginStage(p1, big.id()).ok());
  ASSERT_TRUE(CompleteStage(big.id(), "s1", 2 << 20).ok());
  auto r = Import(p1, big.id());
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << r.status();
  EXPECT_NE(r.status().message().find("image_size_total"), std::string::npos) << r.status();
  EXPECT_EQ(Col(big.id(), "status"), "uploading");
  EXPECT_EQ(TaskCount(), "0");
  // web-download makes a queued image one more uploading image: the staged one already is.
  v1::Image queued = Create(p1, Formats);
  r = Import(p1, queued.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://x/y");
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << r.status();
  EXPECT_NE(r.status().message().find("image_count_uploading"), std::string::npos) << r.status();
  EXPECT_EQ(Col(queued.id(), "status"), "queued");
  EXPECT_EQ(TaskCount(), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox"), "0");
  // Another project is not affected; once p1's staging is gone, p1 fits again.
  EXPECT_TRUE(Import(Caller("p2"), Create(Caller("p2"), Formats).id(),
                     v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://x/y")
                  .ok());
  ASSERT_TRUE(Delete(p1, big.id()).ok());
  EXPECT_TRUE(Import(p1, queued.id(), v1::IMPORT_METHOD_WEB_DOWNLOAD, "http://x/y").ok());
}

// ---- The import task on the worker side ----------------------------------------------------

TEST_F(ImportTest, RenewExtendsTheLeaseAndShowsProgressToTheOwner) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  auto c = Claim(task_id, "w1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->response.outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(c->response.task().import().staging_url(), StagingUrl(image_id));
  EXPECT_EQ(Claim(task_id, "w2")->response.outcome(), v1::CLAIM_OUTCOME_LEASED_ELSEWHERE);

  ASSERT_TRUE(Renew(task_id, "w1", 600, "converting", 512, 2048).ok());
  EXPECT_EQ(TaskCol(task_id, "lease_expires_at > now() + interval '500 seconds'"), "t");
  auto task = GetTask(p1, task_id);
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->status(), v1::TASK_STATUS_PROCESSING);
  EXPECT_EQ(task->progress().stage(), "converting");
  EXPECT_EQ(task->progress().bytes_done(), 512);
  EXPECT_EQ(task->progress().bytes_total(), 2048);
  EXPECT_EQ(task->message(), "Copied 512 bytes");
  auto listed = ListTasks(p1, [&](v1::ListTasksRequest& r) { r.set_image_id(image_id); });
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->tasks_size(), 1);
  EXPECT_EQ(listed->tasks(0).progress().bytes_done(), 512);
  EXPECT_EQ(listed->tasks(0).progress().stage(), "converting");

  // Another worker cannot renew (nor overwrite the progress); nor can bad progress.
  EXPECT_EQ(Renew(task_id, "w2", 600, "storing", 9, 9).code(), Code::kFailedPrecondition);
  EXPECT_EQ(Renew(task_id, "w1", 600, "storing", -1, 9).code(), Code::kInvalidArgument);
  EXPECT_EQ(Renew(task_id, "w1", -1, "storing", 1, 9).code(), Code::kInvalidArgument);
  EXPECT_EQ(Renew(task_id, "", 600, "storing", 1, 9).code(), Code::kInvalidArgument);
  EXPECT_EQ(Renew(NewUuid(), "w1", 600, "storing", 1, 9).code(), Code::kFailedPrecondition);
  EXPECT_EQ(Renew("nope", "w1", 600, "storing", 1, 9).code(), Code::kFailedPrecondition);
  EXPECT_EQ(GetTask(p1, task_id)->progress().stage(), "converting");
  // A pending task has no lease to renew.
  const std::string pending = StartedTask(p1);
  EXPECT_EQ(Renew(pending, "w1", 600, "storing", 1, 9).code(), Code::kFailedPrecondition);
}

TEST_F(ImportTest, FinishImportSuccessActivatesTheImage) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  ASSERT_TRUE(Claim(task_id, "w1").ok());
  // An import must end through FinishImport, not CompleteTask.
  v1::CompleteTaskRequest complete;
  complete.set_task_id(task_id);
  complete.set_worker_id("w1");
  complete.set_success(true);
  EXPECT_EQ(tasks_->CompleteTask(complete).status().code(), Code::kInvalidArgument);

  // Malformed reports are refused before anything is looked at.
  v1::FinishImportRequest bad = Success(task_id, "w1");
  bad.clear_location();
  EXPECT_EQ(tasks_->FinishImport(bad).status().code(), Code::kInvalidArgument);
  bad = Success(task_id, "w1");
  bad.set_size(-1);
  EXPECT_EQ(tasks_->FinishImport(bad).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tasks_->FinishImport(Success(task_id, "")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tasks_->FinishImport(Success("nope", "w1")).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(tasks_->FinishImport(Success(NewUuid(), "w1")).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(Col(image_id, "status"), "importing");

  auto done = tasks_->FinishImport(Success(task_id, "w1"));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, v1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(done->image_status, v1::IMAGE_STATUS_ACTIVE);
  EXPECT_FALSE(done->replay);
  auto img = Get(p1, image_id);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->status(), v1::IMAGE_STATUS_ACTIVE);
  EXPECT_EQ(img->size(), 4096);
  EXPECT_EQ(img->checksum(), "md5sum");
  EXPECT_EQ(img->os_hash_algo(), "sha512");
  EXPECT_EQ(img->os_hash_value(), "shasum");
  EXPECT_EQ(img->virtual_size(), 10240);
  EXPECT_EQ(img->disk_format(), "raw");  // converted from qcow2
  EXPECT_EQ(img->container_format(), "bare");
  ASSERT_EQ(img->locations_size(), 1);
  EXPECT_EQ(img->locations(0).url(), StoredUrl(task_id));
  EXPECT_EQ(img->properties().count(stmt::kImportLockProperty), 0u);
  EXPECT_EQ(img->properties().at("injected"), "yes");
  EXPECT_EQ(img->properties().count("os_glance_sneaky"), 0u);
  EXPECT_EQ(Col(image_id, "staging_url IS NULL"), "t");

  auto task = GetTask(p1, task_id);
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->status(), v1::TASK_STATUS_SUCCESS);
  EXPECT_NE(task->result_json().find(image_id), std::string::npos) << task->result_json();
  ASSERT_TRUE(task->has_expires_at());
  EXPECT_EQ(TaskCol(task_id,
                    "expires_at BETWEEN now() + interval '47 hours' AND "
                    "now() + interval '49 hours'"),
            "t");
  EXPECT_EQ(TaskCol(task_id, "lease_owner IS NULL"), "t");
  // The staging object and the temporary go, the stored data stays; one cleanup task.
  ASSERT_FALSE(done->cleanup_task_id.empty());
  EXPECT_EQ(Cleanups(image_id),
            "file:///staging/" + image_id + " file:///tmp/" + task_id + ".converted");
  EXPECT_EQ(Outbox(done->cleanup_task_id), "1");

  // The same message again (its answer was lost): one effect.
  const std::string version = Col(image_id, "version");
  const std::string tasks = TaskCount();
  auto again = tasks_->FinishImport(Success(task_id, "w1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, v1::TASK_STATUS_SUCCESS);
  EXPECT_TRUE(again->replay);
  EXPECT_TRUE(again->cleanup_task_id.empty());
  EXPECT_EQ(Col(image_id, "version"), version);
  EXPECT_EQ(TaskCount(), tasks);
  // A different result, or a failure, for the finished task is refused and changes nothing.
  v1::FinishImportRequest other = Success(task_id, "w1");
  other.mutable_location()->set_url("file:///data/elsewhere");
  EXPECT_EQ(tasks_->FinishImport(other).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(tasks_->FinishImport(Failure(task_id, "w1")).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(Col(image_id, "status || ' ' || version"), "active " + version);
  EXPECT_EQ(TaskCount(), tasks);
  // A late duplicate message finds the task finished.
  EXPECT_EQ(Claim(task_id, "w2")->response.outcome(), v1::CLAIM_OUTCOME_FINISHED);
}

TEST_F(ImportTest, FinishImportFailureGivesTheImageBack) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  ASSERT_TRUE(Claim(task_id, "w1").ok());
  auto failed = tasks_->FinishImport(Failure(task_id, "w1"));
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->status, v1::TASK_STATUS_FAILURE);
  EXPECT_EQ(failed->image_status, v1::IMAGE_STATUS_QUEUED);
  auto img = Get(p1, image_id);
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->status(), v1::IMAGE_STATUS_QUEUED);
  EXPECT_FALSE(img->has_size());
  EXPECT_EQ(img->locations_size(), 0);
  EXPECT_EQ(img->properties().count(stmt::kImportLockProperty), 0u);
  EXPECT_EQ(Col(image_id, "staging_url IS NULL"), "t");
  auto task = GetTask(p1, task_id);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->status(), v1::TASK_STATUS_FAILURE);
  EXPECT_EQ(task->message(), "qcow2 has a backing file");
  EXPECT_TRUE(task->has_expires_at());
  // Staged data goes with a failed import (Glance), with what the worker wrote.
  EXPECT_EQ(Cleanups(image_id),
            "file:///staging/" + image_id + " file:///tmp/" + task_id + ".converted");
  EXPECT_EQ(Outbox(failed->cleanup_task_id), "1");

  // Redelivered: refused, and no second cleanup.
  const std::string version = Col(image_id, "version");
  const std::string tasks = TaskCount();
  EXPECT_EQ(tasks_->FinishImport(Failure(task_id, "w1")).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(tasks_->FinishImport(Success(task_id, "w1")).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(Col(image_id, "version"), version);
  EXPECT_EQ(TaskCount(), tasks);
  // The image can be staged and imported again.
  ASSERT_TRUE(BeginStage(p1, image_id, "s2").ok());
  ASSERT_TRUE(CompleteStage(image_id, "s2").ok());
  EXPECT_TRUE(Import(p1, image_id).ok());
}

TEST_F(ImportTest, CompleteTaskFailureOfAnImportIsAFailedImport) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  ASSERT_TRUE(Claim(task_id, "w1").ok());
  v1::CompleteTaskRequest req;
  req.set_task_id(task_id);
  req.set_worker_id("w1");
  req.set_success(false);
  req.set_message("unknown task type");
  auto r = tasks_->CompleteTask(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image_status, v1::IMAGE_STATUS_QUEUED);
  EXPECT_EQ(Col(image_id, "status || ' ' || (properties ? 'os_glance_import_task')"),
            "queued false");
  EXPECT_EQ(Cleanups(image_id), "file:///staging/" + image_id);
}

TEST_F(ImportTest, WorkerThatLostItsLeaseCannotFinish) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  ASSERT_TRUE(Claim(task_id, "w1").ok());
  ExpireLease(task_id);
  auto c = Claim(task_id, "w2");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->response.outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(c->response.task().attempts(), 2);

  // w1 wakes up: its renewal, success and failure are all refused, and change nothing.
  const std::string version = Col(image_id, "version");
  const std::string tasks = TaskCount();
  EXPECT_EQ(Renew(task_id, "w1", 30, "storing", 1, 2).code(), Code::kFailedPrecondition);
  EXPECT_EQ(tasks_->FinishImport(Success(task_id, "w1")).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(tasks_->FinishImport(Failure(task_id, "w1")).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(Col(image_id, "status || ' ' || version"), "importing " + version);
  EXPECT_EQ(TaskCol(task_id, "status || ' ' || lease_owner"), "processing w2");
  EXPECT_EQ(TaskCount(), tasks);

  // w2 finishes; w1's success replayed afterwards is still not its own (another location).
  auto done = tasks_->FinishImport(Success(task_id, "w2"));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, v1::TASK_STATUS_SUCCESS);
  v1::FinishImportRequest late = Success(task_id, "w1");
  late.mutable_location()->set_url("file:///data/w1-attempt");
  EXPECT_EQ(tasks_->FinishImport(late).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Get(p1, image_id)->locations(0).url(), StoredUrl(task_id));
}

TEST_F(ImportTest, SuccessOnADeletedImageFailsTheImportAndDiscardsItsData) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  ASSERT_TRUE(Claim(task_id, "w1").ok());
  auto deleted = Delete(p1, image_id);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  // The running import owns the staged data: the delete leaves it to the import.
  EXPECT_EQ(Cleanups(image_id), "");
  auto done = tasks_->FinishImport(Success(task_id, "w1"));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, v1::TASK_STATUS_FAILURE);
  EXPECT_EQ(done->image_status, v1::IMAGE_STATUS_UNSPECIFIED);
  EXPECT_EQ(Col(image_id, "status"), "deleted");
  EXPECT_EQ(Cleanups(image_id), StoredUrl(task_id) + " file:///staging/" + image_id +
                                    " file:///tmp/" + task_id + ".converted");
}

TEST_F(ImportTest, SuccessOverImageSizeQuotaFailsTheImport) {
  auto quotas = ProjectQuotas::Parse(R"({"defaults": {"image_size_total": 1}})");
  ASSERT_TRUE(quotas.ok());
  UseLimits({}, *quotas);
  tasks_ = std::make_unique<PgTaskRepository>(*pool_, TaskPolicy{}, ListLimits{25, 1000}, *quotas);
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);  // 3000 bytes staged fit
  ASSERT_TRUE(Claim(task_id, "w1").ok());
  v1::FinishImportRequest req = Success(task_id, "w1");
  req.set_size(2 << 20);  // converted, it no longer fits
  auto done = tasks_->FinishImport(req);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, v1::TASK_STATUS_FAILURE);
  EXPECT_EQ(done->image_status, v1::IMAGE_STATUS_QUEUED);
  EXPECT_NE(TaskCol(task_id, "message").find("image_size_total"), std::string::npos);
  EXPECT_NE(Cleanups(image_id).find(StoredUrl(task_id)), std::string::npos);
}

TEST_F(ImportTest, PoisonTaskFailsAfterMaxAttemptsAndClearsTheImage) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    auto c = Claim(task_id, "w" + std::to_string(attempt));
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ(c->response.outcome(), v1::CLAIM_OUTCOME_CLAIMED) << attempt;
    EXPECT_FALSE(c->gave_up.has_value());
    ExpireLease(task_id);  // the worker crashed
  }
  auto c = Claim(task_id, "w9");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->response.outcome(), v1::CLAIM_OUTCOME_FINISHED);
  ASSERT_TRUE(c->gave_up.has_value());
  EXPECT_EQ(c->gave_up->status, v1::TASK_STATUS_FAILURE);
  EXPECT_EQ(c->gave_up->image_status, v1::IMAGE_STATUS_QUEUED);
  EXPECT_EQ(c->response.task().status(), v1::TASK_STATUS_FAILURE);
  EXPECT_EQ(c->response.task().attempts(), kMaxAttempts);  // the give-up is no attempt
  EXPECT_NE(c->response.task().message().find("Gave up after 3 attempts"), std::string::npos)
      << c->response.task().message();
  EXPECT_EQ(Col(image_id,
                "status || ' ' || (properties ? 'os_glance_import_task') || ' ' || "
                "(staging_url IS NULL) || ' ' || (size IS NULL)"),
            "queued false true true");
  EXPECT_EQ(Cleanups(image_id), "file:///staging/" + image_id);
  // The last crashed worker cannot finish it either, and another claim has no effect.
  EXPECT_EQ(tasks_->FinishImport(Success(task_id, "w3")).status().code(),
            Code::kFailedPrecondition);
  c = Claim(task_id, "w9");
  EXPECT_EQ(c->response.outcome(), v1::CLAIM_OUTCOME_FINISHED);
  EXPECT_FALSE(c->gave_up.has_value());
  EXPECT_EQ(Sql("SELECT count(*) FROM tasks WHERE type = 'delete_data'"), "1");
}

TEST_F(ImportTest, RedriverGivesUpAPoisonTaskWithTheImage) {
  const v1::Caller p1 = Caller("p1");
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    ASSERT_EQ(Claim(task_id, "w1")->response.outcome(), v1::CLAIM_OUTCOME_CLAIMED);
    ExpireLease(task_id);
  }
  // Its messages are gone (published) and it has been silent for long.
  Sql("DELETE FROM outbox");
  Sql("UPDATE tasks SET updated_at = now() - interval '10 minutes' WHERE id = '" + task_id + "'");
  auto redriven = tasks_->RedriveStaleTasks(10, absl::Minutes(1));
  ASSERT_TRUE(redriven.ok()) << redriven.status();
  ASSERT_EQ(redriven->size(), 1u);
  ASSERT_TRUE((*redriven)[0].gave_up.has_value());
  EXPECT_EQ((*redriven)[0].gave_up->image_status, v1::IMAGE_STATUS_QUEUED);
  EXPECT_EQ(TaskCol(task_id, "status"), "failure");
  EXPECT_EQ(Col(image_id, "status || ' ' || (properties ? 'os_glance_import_task')"),
            "queued false");
  EXPECT_EQ(Outbox(task_id), "0");
}

// ---- ListTasks / GetTask ---------------------------------------------------------------------

TEST_F(ImportTest, TaskVisibility) {
  const v1::Caller p1 = Caller("p1");
  const v1::Caller p2 = Caller("p2");
  const v1::Caller adm = Caller("adm", true);
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  const std::string p2_task = StartedTask(p2);

  EXPECT_TRUE(GetTask(p1, task_id).ok());
  EXPECT_EQ(GetTask(p2, task_id).status().code(), Code::kNotFound);
  EXPECT_TRUE(GetTask(adm, task_id).ok());
  EXPECT_EQ(GetTask(p1, NewUuid()).status().code(), Code::kNotFound);
  EXPECT_EQ(GetTask(p1, "bogus").status().code(), Code::kNotFound);

  auto of_image = [&](v1::ListTasksRequest& r) { r.set_image_id(image_id); };
  EXPECT_EQ(TaskIds(p1, of_image), std::vector<std::string>{task_id});
  EXPECT_EQ(TaskIds(p2, of_image), std::vector<std::string>{"NOT_FOUND"});
  EXPECT_EQ(TaskIds(adm, of_image), std::vector<std::string>{task_id});
  EXPECT_EQ(TaskIds(p1), std::vector<std::string>{task_id});
  EXPECT_EQ(TaskIds(p2), std::vector<std::string>{p2_task});
  EXPECT_EQ(TaskIds(adm).size(), 2u);
  // A member of a shared image sees the image, not p1's tasks on it.
  ASSERT_TRUE(Update(p1, image_id, [](v1::UpdateImageRequest& u) {
                u.mutable_update_mask()->add_paths("visibility");
                u.mutable_image()->set_visibility(v1::VISIBILITY_SHARED);
              }).ok());
  ASSERT_TRUE(AddMember(p1, image_id, "p2").ok());
  EXPECT_TRUE(TaskIds(p2, of_image).empty());

  // delete_data tasks are the service's own: admins see them, owners do not.
  ASSERT_TRUE(Claim(task_id, "w1").ok());
  auto done = tasks_->FinishImport(Success(task_id, "w1"));
  ASSERT_TRUE(done.ok());
  const std::string cleanup = done->cleanup_task_id;
  EXPECT_EQ(GetTask(p1, cleanup).status().code(), Code::kNotFound);
  EXPECT_TRUE(GetTask(adm, cleanup).ok());
  auto deletes = [](v1::ListTasksRequest& r) { r.set_type(v1::TASK_TYPE_DELETE_DATA); };
  EXPECT_TRUE(TaskIds(p1, deletes).empty());
  EXPECT_EQ(TaskIds(adm, deletes), std::vector<std::string>{cleanup});
}

TEST_F(ImportTest, ListTasksPagesAndFilters) {
  const v1::Caller p1 = Caller("p1");
  const v1::Caller adm = Caller("adm", true);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(StartedTask(p1));
    // Distinct, known creation times: ids[0] oldest.
    Sql("UPDATE tasks SET created_at = now() - interval '" + std::to_string(10 - i) +
        " minutes' WHERE id = '" + ids.back() + "'");
  }
  const std::string other = StartedTask(Caller("p2"));
  auto page = ListTasks(p1, [](v1::ListTasksRequest& r) { r.set_limit(2); });
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->page_full());
  EXPECT_EQ(TaskIds(p1, [](v1::ListTasksRequest& r) { r.set_limit(2); }),
            (std::vector<std::string>{ids[4], ids[3]}));
  EXPECT_EQ(TaskIds(p1,
                    [&](v1::ListTasksRequest& r) {
                      r.set_limit(2);
                      r.set_marker(ids[3]);
                    }),
            (std::vector<std::string>{ids[2], ids[1]}));
  page = ListTasks(p1, [&](v1::ListTasksRequest& r) {
    r.set_limit(2);
    r.set_marker(ids[1]);
  });
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->tasks_size(), 1);
  EXPECT_EQ(page->tasks(0).id(), ids[0]);
  EXPECT_FALSE(page->page_full());
  EXPECT_EQ(TaskIds(p1,
                    [&](v1::ListTasksRequest& r) {
                      r.set_ascending(true);
                      r.set_limit(3);
                      r.set_marker(ids[0]);
                    }),
            (std::vector<std::string>{ids[1], ids[2], ids[3]}));
  // A marker p1 may not see, or that does not exist, is a bad request.
  EXPECT_EQ(TaskIds(p1, [&](v1::ListTasksRequest& r) { r.set_marker(other); }),
            std::vector<std::string>{"INVALID_ARGUMENT"});
  EXPECT_EQ(TaskIds(p1, [&](v1::ListTasksRequest& r) { r.set_marker(NewUuid()); }),
            std::vector<std::string>{"INVALID_ARGUMENT"});
  EXPECT_EQ(TaskIds(adm, [&](v1::ListTasksRequest& r) { r.set_marker(other); }).size(), 5u);
  EXPECT_EQ(TaskIds(p1, [](v1::ListTasksRequest& r) { r.set_limit(-1); }),
            std::vector<std::string>{"INVALID_ARGUMENT"});

  // Filters: status.
  ASSERT_TRUE(Claim(ids[2], "w1").ok());
  EXPECT_EQ(TaskIds(p1, [](v1::ListTasksRequest& r) { r.set_status(v1::TASK_STATUS_PROCESSING); }),
            std::vector<std::string>{ids[2]});
  EXPECT_EQ(
      TaskIds(p1, [](v1::ListTasksRequest& r) { r.set_status(v1::TASK_STATUS_PENDING); }).size(),
      4u);
  EXPECT_TRUE(
      TaskIds(p1, [](v1::ListTasksRequest& r) { r.set_status(v1::TASK_STATUS_SUCCESS); }).empty());
}

TEST_F(ImportTest, FinishedTasksExpire) {
  const v1::Caller p1 = Caller("p1");
  const v1::Caller adm = Caller("adm", true);
  std::string image_id;
  const std::string task_id = StartedTask(p1, &image_id);
  ASSERT_TRUE(Claim(task_id, "w1").ok());
  ASSERT_TRUE(tasks_->FinishImport(Failure(task_id, "w1")).ok());
  EXPECT_TRUE(GetTask(p1, task_id).ok());
  EXPECT_EQ(TaskIds(p1).size(), 1u);
  // Its time to live is over.
  Sql("UPDATE tasks SET expires_at = now() - interval '1 second' WHERE id = '" + task_id + "'");
  for (const v1::Caller& caller : {p1, adm}) {
    EXPECT_EQ(GetTask(caller, task_id).status().code(), Code::kNotFound);
    EXPECT_TRUE(TaskIds(caller).empty());
    EXPECT_TRUE(
        TaskIds(caller, [&](v1::ListTasksRequest& r) { r.set_image_id(image_id); }).empty());
  }
  // Unfinished tasks never expire.
  const std::string running = StartedTask(p1);
  EXPECT_EQ(TaskCol(running, "expires_at IS NULL"), "t");
  EXPECT_EQ(TaskIds(p1), std::vector<std::string>{running});
}

}  // namespace
}  // namespace gaze::metadata
