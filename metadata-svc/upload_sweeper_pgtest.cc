// UploadSweeper's thread against a real PostgreSQL: an expired upload is released without
// anyone asking.
#include "gtest/gtest.h"
#include "metadata-svc/pg_image_repository.h"
#include "metadata-svc/testing/test_database.h"
#include "metadata-svc/upload_sweeper.h"

namespace gaze::metadata {
namespace {

using UploadSweeperTest = testing::PgTest;

TEST_F(UploadSweeperTest, ReleasesExpiredUploadsPeriodically) {
  auto pool = NewPool();
  PgImageRepository images(*pool, ListLimits{});
  v1::CreateImageRequest create;
  create.mutable_caller()->set_project_id("p1");
  create.mutable_image()->set_disk_format("raw");
  create.mutable_image()->set_container_format("bare");
  auto img = images.CreateImage(create);
  ASSERT_TRUE(img.ok());
  v1::BeginUploadRequest begin;
  *begin.mutable_caller() = create.caller();
  begin.set_id(img->id());
  begin.set_upload_id("u1");
  begin.set_object_url("file:///d/partial");
  begin.set_lease_seconds(1);
  ASSERT_TRUE(images.BeginUpload(begin).ok());

  UploadSweeper sweeper(images, absl::Milliseconds(20));
  sweeper.Start();
  Sql("UPDATE images SET upload_expires_at = now() - interval '1 second'");
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Sql("SELECT status FROM images") != "queued" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  sweeper.Stop();
  EXPECT_EQ(Sql("SELECT status FROM images"), "queued");
  EXPECT_EQ(Sql("SELECT input->'urls'->>0 FROM tasks"), "file:///d/partial");
}

}  // namespace
}  // namespace gaze::metadata
