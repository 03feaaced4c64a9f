// Per-image limits and per-project quotas against a real PostgreSQL: the checks inside
// CreateImage, UpdateImage, BeginUpload and CompleteUpload, GetUsage, and that concurrent
// calls cannot both squeeze under a limit.
#include <atomic>
#include <map>
#include <pqxx/pqxx>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "metadata-svc/pg_statements.h"
#include "metadata-svc/testing/image_fixture.h"

namespace gaze::metadata {
namespace {

using testing::Caller;

constexpr int64_t kMiB = 1 << 20;
constexpr ImageLimits kNoImageLimits{.properties = -1, .tags = -1, .members = -1};

ProjectQuotas Quotas(const std::string& json) {
  auto q = ProjectQuotas::Parse(json);
  EXPECT_TRUE(q.ok()) << q.status();
  return q.ok() ? *q : ProjectQuotas();
}

class QuotaTest : public testing::ImageFixture {
 protected:
  v1::Image Formatted(const v1::Caller& caller) {
    return Create(caller, [](v1::Image& i) {
      i.set_disk_format("raw");
      i.set_container_format("bare");
    });
  }

  std::map<std::string, std::pair<int64_t, int64_t>> Usage(const std::string& project) {
    v1::GetUsageRequest req;
    req.mutable_caller()->set_project_id(project);
    auto r = repo_->GetUsage(req);
    EXPECT_TRUE(r.ok()) << r.status();
    std::map<std::string, std::pair<int64_t, int64_t>> usage;
    if (r.ok()) {
      for (const v1::QuotaUsage& u : r->usage()) usage[u.resource()] = {u.limit(), u.usage()};
    }
    return usage;
  }

  // Holds `project`'s quota lock in a transaction of its own until Release().
  void HoldQuotaLock(const std::string& project) {
    holder_conn_ = std::make_unique<pqxx::connection>(dsn());
    holder_tx_ = std::make_unique<pqxx::work>(*holder_conn_);
    holder_tx_->exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))",
                            stmt::kQuotaLockNamespace, project);
  }
  void Release() {
    holder_tx_->commit();
    holder_tx_.reset();
    holder_conn_.reset();
  }

  // Polls (no sleeping) until `n` sessions wait for a quota lock; false after 10 s.
  bool WaitForQuotaLockWaiters(int n) {
    pqxx::connection conn(dsn());
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      pqxx::nontransaction tx(conn);
      pqxx::row r = tx.exec_params1(
          "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
          "AND classid = $1 AND objsubid = 2",
          stmt::kQuotaLockNamespace);
      if (r[0].as<int>() >= n) return true;
    }
    return false;
  }

  std::unique_ptr<pqxx::connection> holder_conn_;
  std::unique_ptr<pqxx::work> holder_tx_;
};

TEST_F(QuotaTest, PropertyAndTagLimitsOnCreateAndUpdate) {
  UseLimits({.properties = 2, .tags = 1, .members = 128});
  const v1::Caller p1 = Caller("p1");
  v1::CreateImageRequest create;
  *create.mutable_caller() = p1;
  for (const char* k : {"a", "b", "c"}) (*create.mutable_image()->mutable_properties())[k] = "v";
  auto over = repo_->CreateImage(create);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().message(),
            "The limit has been exceeded on the number of allowed image properties. Attempted: "
            "3, Maximum: 2");
  create.mutable_image()->mutable_properties()->erase("c");
  create.mutable_image()->add_tags("t1");
  create.mutable_image()->add_tags("t2");
  EXPECT_EQ(repo_->CreateImage(create).status().message(),
            "The limit has been exceeded on the number of allowed image tags. Attempted: 2, "
            "Maximum: 1");
  EXPECT_EQ(Sql("SELECT count(*) FROM images"), "0");

  v1::Image img = Create(p1, [](v1::Image& i) {
    (*i.mutable_properties())["a"] = "1";
    (*i.mutable_properties())["b"] = "2";
    i.add_tags("t1");
  });
  auto grown = Update(p1, img.id(),
                      [](v1::UpdateImageRequest& u) { (*u.mutable_set_properties())["c"] = "3"; });
  EXPECT_EQ(grown.status().code(), absl::StatusCode::kResourceExhausted);
  auto tagged = Update(p1, img.id(), [](v1::UpdateImageRequest& u) {
    u.mutable_update_mask()->add_paths("tags");
    u.mutable_image()->add_tags("t1");
    u.mutable_image()->add_tags("t2");
  });
  EXPECT_EQ(tagged.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Get(p1, img.id())->version(), img.version());  // nothing written
  // Replacing within the limit is fine.
  EXPECT_TRUE(Update(p1, img.id(), [](v1::UpdateImageRequest& u) {
                (*u.mutable_set_properties())["c"] = "3";
                u.add_remove_properties("a");
              }).ok());

  UseLimits(kNoImageLimits);
  for (int n = 0; n < 200; ++n) {
    (*create.mutable_image()->mutable_properties())["k" + std::to_string(n)] = "v";
  }
  EXPECT_TRUE(repo_->CreateImage(create).ok());
}

TEST_F(QuotaTest, ImageCountTotalOnCreate) {
  UseLimits({}, Quotas(R"({"projects": {"p1": {"image_count_total": 2}}})"));
  const v1::Caller p1 = Caller("p1");
  v1::Image a = Create(p1);
  v1::Image b = Create(p1);
  v1::CreateImageRequest create;
  *create.mutable_caller() = p1;
  auto over = repo_->CreateImage(create);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().message(),
            "Project p1 is over a limit for [Resource image_count_total is over limit of 2 due to "
            "current usage 2 and delta 1]");
  // An admin creating an image for p1 charges p1.
  v1::CreateImageRequest for_p1;
  *for_p1.mutable_caller() = Caller("adm", true);
  for_p1.mutable_image()->set_owner("p1");
  EXPECT_EQ(repo_->CreateImage(for_p1).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Create(Caller("p2")).id().size() > 0);  // p2 has no limit

  // Deleted and killed images do not count.
  ASSERT_TRUE(Delete(p1, a.id()).ok());
  EXPECT_TRUE(repo_->CreateImage(create).ok());
  EXPECT_FALSE(repo_->CreateImage(create).ok());
  Sql("UPDATE images SET status = 'killed' WHERE id = '" + b.id() + "'");
  EXPECT_TRUE(repo_->CreateImage(create).ok());
}

TEST_F(QuotaTest, UploadChecksDeclaredThenRealSize) {
  UseLimits({}, Quotas(R"({"defaults": {"image_size_total": 1}})"));
  const v1::Caller p1 = Caller("p1");
  CreateActive(p1, 700 * 1024);
  v1::Image img = Formatted(p1);

  auto begun = Begin(p1, img.id(), "u1", 400 * 1024);
  EXPECT_EQ(begun.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(begun.status().message(),
            "Project p1 is over a limit for [Resource image_size_total is over limit of 1 due to "
            "current usage 1 and delta 1]");
  EXPECT_EQ(Get(p1, img.id())->status(), v1::IMAGE_STATUS_QUEUED);

  begun = Begin(p1, img.id(), "u1", 300 * 1024);
  ASSERT_TRUE(begun.ok()) << begun.status();
  EXPECT_EQ(begun->remaining_bytes(), kMiB - 700 * 1024);
  // The real size is what counts: too big, and the image stays in saving for the uploader to
  // abort.
  auto done = Complete(img.id(), "u1", 400 * 1024);
  EXPECT_EQ(done.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Get(p1, img.id())->status(), v1::IMAGE_STATUS_SAVING);
  done = Complete(img.id(), "u1", 324 * 1024);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), v1::IMAGE_STATUS_ACTIVE);
  EXPECT_EQ(Usage("p1")["image_size_total"], (std::pair<int64_t, int64_t>{1, 1}));

  // Full: an upload of unknown size may start (delta 0) but no byte more may complete.
  v1::Image next = Formatted(p1);
  begun = Begin(p1, next.id(), "u2");
  ASSERT_TRUE(begun.ok()) << begun.status();
  EXPECT_EQ(begun->remaining_bytes(), 0);
  EXPECT_EQ(Complete(next.id(), "u2", 1).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Complete(next.id(), "u2", 0).ok());  // nova's zero-byte snapshots still work
  EXPECT_EQ(Begin(p1, Formatted(p1).id(), "u3", -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(QuotaTest, ImageCountUploadingCountsTheImageEnteringSaving) {
  UseLimits({}, Quotas(R"({"defaults": {"image_count_uploading": 1}})"));
  const v1::Caller p1 = Caller("p1");
  v1::Image a = Formatted(p1), b = Formatted(p1);
  auto first = Begin(p1, a.id(), "u1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->has_remaining_bytes());  // image_size_total is unlimited
  auto second = Begin(p1, b.id(), "u2");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(second.status().message(),
            "Project p1 is over a limit for [Resource image_count_uploading is over limit of 1 "
            "due to current usage 1 and delta 1]");
  v1::AbortUploadRequest abort;
  abort.set_id(a.id());
  abort.set_upload_id("u1");
  ASSERT_TRUE(repo_->AbortUpload(abort).ok());
  EXPECT_TRUE(Begin(p1, b.id(), "u2").ok());
}

TEST_F(QuotaTest, GetUsageReportsConfiguredResourcesOnly) {
  const v1::Caller p1 = Caller("p1");
  CreateActive(p1, 3 * kMiB + 1);
  EXPECT_TRUE(Usage("p1").empty());  // no quota file

  UseLimits({}, Quotas(R"({"defaults": {"image_count_total": 10, "image_size_total": 100,
                                        "image_count_uploading": 5, "image_stage_total": 50},
                           "projects": {"p2": {"image_size_total": -1}}})"));
  v1::Image saving = Formatted(p1);
  ASSERT_TRUE(Begin(p1, saving.id(), "u1").ok());
  v1::Image staged = Create(p1);
  Sql("UPDATE images SET status = 'uploading', size = " + std::to_string(2 * kMiB) +
      " WHERE id = '" + staged.id() + "'");
  v1::Image killed = Create(p1);
  Sql("UPDATE images SET status = 'killed' WHERE id = '" + killed.id() + "'");
  v1::Image deactivated = CreateActive(p1, kMiB);
  ASSERT_TRUE(ChangeStatus(p1, deactivated.id(), v1::STATUS_ACTION_DEACTIVATE).ok());
  ASSERT_TRUE(Delete(p1, CreateActive(p1, 50 * kMiB).id()).ok());
  Create(p1);  // queued

  using P = std::pair<int64_t, int64_t>;
  auto usage = Usage("p1");
  EXPECT_EQ(usage.size(), 4u);
  EXPECT_EQ(usage["image_count_total"], (P{10, 5}));  // active, saving, uploading, deact., queued
  EXPECT_EQ(usage["image_size_total"], (P{100, 5}));  // 3 MiB + 1 byte + 1 MiB, rounded up
  EXPECT_EQ(usage["image_count_uploading"], (P{5, 2}));  // saving, uploading
  EXPECT_EQ(usage["image_stage_total"], (P{50, 2}));
  auto p2 = Usage("p2");
  EXPECT_EQ(p2.size(), 3u);
  EXPECT_EQ(p2.count("image_size_total"), 0u);
  EXPECT_EQ(p2["image_count_total"], (P{10, 0}));
}

// The test holds p1's quota lock while both calls start, so both are inside the enforcing
// transaction at once; were the usage read before the lock (or without it), both would pass.
TEST_F(QuotaTest, ConcurrentCreatesCannotBothSqueezeUnderImageCountTotal) {
  UseLimits({}, Quotas(R"({"projects": {"p1": {"image_count_total": 1}}})"));
  HoldQuotaLock("p1");
  std::vector<absl::Status> results(2);
  std::vector<std::thread> threads;
  for (int n = 0; n < 2; ++n) {
    threads.emplace_back([&, n] {
      v1::CreateImageRequest req;
      *req.mutable_caller() = Caller("p1");
      results[n] = repo_->CreateImage(req).status();
    });
  }
  ASSERT_TRUE(WaitForQuotaLockWaiters(2));
  Release();
  for (std::thread& t : threads) t.join();
  int ok = 0, exhausted = 0;
  for (const absl::Status& s : results) {
    ok += s.ok();
    exhausted += s.code() == absl::StatusCode::kResourceExhausted;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(exhausted, 1);
  EXPECT_EQ(Sql("SELECT count(*) FROM images"), "1");
}

TEST_F(QuotaTest, ConcurrentUploadsCannotBothSqueezeUnderImageSizeTotal) {
  UseLimits({}, Quotas(R"({"projects": {"p1": {"image_size_total": 1}}})"));
  const v1::Caller p1 = Caller("p1");
  v1::Image a = Formatted(p1), b = Formatted(p1);
  // Each fits alone: both may start.
  ASSERT_TRUE(Begin(p1, a.id(), "ua", 600 * 1024).ok());
  ASSERT_TRUE(Begin(p1, b.id(), "ub", 600 * 1024).ok());
  HoldQuotaLock("p1");
  std::vector<absl::Status> results(2);
  std::thread ta([&] { results[0] = Complete(a.id(), "ua", 600 * 1024).status(); });
  std::thread tb([&] { results[1] = Complete(b.id(), "ub", 600 * 1024).status(); });
  ASSERT_TRUE(WaitForQuotaLockWaiters(2));
  Release();
  ta.join();
  tb.join();
  EXPECT_NE(results[0].ok(), results[1].ok()) << results[0] << " / " << results[1];
  for (const absl::Status& s : results) {
    EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kResourceExhausted) << s;
  }
  EXPECT_EQ(Sql("SELECT string_agg(status, ',' ORDER BY status) FROM images"), "active,saving");
}

// Without the held lock: many threads race freely; the limit still holds exactly.
TEST_F(QuotaTest, ManyConcurrentCreatesStopExactlyAtTheLimit) {
  UseLimits({}, Quotas(R"({"defaults": {"image_count_total": 5}})"));
  std::atomic<int> ok = 0, exhausted = 0;
  std::vector<std::thread> threads;
  for (int n = 0; n < 8; ++n) {
    threads.emplace_back([&] {
      for (int i = 0; i < 3; ++i) {
        v1::CreateImageRequest req;
        *req.mutable_caller() = Caller("p1");
        absl::Status s = repo_->CreateImage(req).status();
        if (s.ok()) ++ok;
        if (s.code() == absl::StatusCode::kResourceExhausted) ++exhausted;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 5);
  EXPECT_EQ(exhausted.load(), 19);
  EXPECT_EQ(Sql("SELECT count(*) FROM images WHERE owner = 'p1'"), "5");
}

}  // namespace
}  // namespace gaze::metadata
