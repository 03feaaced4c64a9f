// The whole service in process: gRPC server on 127.0.0.1:0 over PostgreSQL, driven through
// generated stubs, checking status codes end to end, request id propagation and health.
#include <grpcpp/grpcpp.h>

#include "gaze/metadata/v1/metadata.grpc.pb.h"
#include "gtest/gtest.h"
#include "metadata-svc/health_probe.h"
#include "metadata-svc/pg_image_repository.h"
#include "metadata-svc/pg_task_repository.h"
#include "metadata-svc/server.h"
#include "metadata-svc/testing/test_database.h"
#include "services/common/ids.h"
#include "services/rpc/status.h"

namespace gaze::metadata {
namespace {

class GrpcServiceTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pool_ = NewPool();
    images_ = std::make_unique<PgImageRepository>(*pool_, ListLimits{25, 1000});
    tasks_ = std::make_unique<PgTaskRepository>(*pool_);
    auto server =
        MetadataServer::Start({.listen_address = "127.0.0.1", .port = 0}, *images_, *tasks_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    target_ = "127.0.0.1:" + std::to_string(server_->port());
    auto channel = grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
    image_stub_ = v1::ImageService::NewStub(channel);
    task_stub_ = v1::TaskService::NewStub(channel);
  }

  void TearDown() override {
    server_.reset();
    PgTest::TearDown();
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& request_id = "req-grpc") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata(rpc::kRequestIdKey, request_id);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  static v1::Caller Caller(const std::string& project) {
    v1::Caller c;
    c.set_project_id(project);
    return c;
  }

  grpc::StatusCode CreateCode(const v1::CreateImageRequest& req, v1::Image* out) {
    return image_stub_->CreateImage(Ctx().get(), req, out).error_code();
  }

  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgImageRepository> images_;
  std::unique_ptr<PgTaskRepository> tasks_;
  std::unique_ptr<MetadataServer> server_;
  std::string target_;
  std::unique_ptr<v1::ImageService::Stub> image_stub_;
  std::unique_ptr<v1::TaskService::Stub> task_stub_;
};

TEST_F(GrpcServiceTest, ErrorCodesEndToEnd) {
  v1::CreateImageRequest create;
  *create.mutable_caller() = Caller("p1");
  create.mutable_image()->set_visibility(v1::VISIBILITY_PRIVATE);
  create.mutable_image()->set_disk_format("raw");
  create.mutable_image()->set_container_format("bare");
  v1::Image img;
  ASSERT_EQ(CreateCode(create, &img), grpc::StatusCode::OK);
  create.mutable_image()->set_id(img.id());
  v1::Image ignored;
  EXPECT_EQ(CreateCode(create, &ignored), grpc::StatusCode::ALREADY_EXISTS);
  create.mutable_image()->set_id("bad");
  EXPECT_EQ(CreateCode(create, &ignored), grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetImageRequest get;
  *get.mutable_caller() = Caller("p2");
  get.set_id(img.id());
  grpc::Status s = image_stub_->GetImage(Ctx().get(), get, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "No image found with ID " + img.id());
  *get.mutable_caller() = Caller("p1");
  ASSERT_TRUE(image_stub_->GetImage(Ctx().get(), get, &ignored).ok());
  EXPECT_EQ(ignored.id(), img.id());

  v1::UpdateImageRequest update;
  *update.mutable_caller() = Caller("p1");
  update.set_id(img.id());
  update.set_expected_version(7);
  update.mutable_update_mask()->add_paths("name");
  EXPECT_EQ(image_stub_->UpdateImage(Ctx().get(), update, &ignored).error_code(),
            grpc::StatusCode::ABORTED);

  v1::ListImagesRequest list;
  *list.mutable_caller() = Caller("p1");
  list.set_marker(NewUuid());
  v1::ListImagesResponse listed;
  EXPECT_EQ(image_stub_->ListImages(Ctx().get(), list, &listed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  list.clear_marker();
  ASSERT_TRUE(image_stub_->ListImages(Ctx().get(), list, &listed).ok());
  EXPECT_EQ(listed.images_size(), 1);
  EXPECT_FALSE(listed.page_full());

  v1::BeginUploadRequest begin;
  *begin.mutable_caller() = Caller("p1");
  begin.set_id(img.id());
  begin.set_upload_id("u1");
  begin.set_object_url("file:///d/x");
  begin.set_lease_seconds(30);
  v1::BeginUploadResponse begun;
  ASSERT_TRUE(image_stub_->BeginUpload(Ctx().get(), begin, &begun).ok());
  EXPECT_EQ(image_stub_->BeginUpload(Ctx().get(), begin, &begun).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::CompleteUploadRequest complete;
  complete.set_id(img.id());
  complete.set_upload_id("u1");
  complete.set_size(3);
  complete.mutable_location()->set_url("file:///d/x");
  ASSERT_TRUE(image_stub_->CompleteUpload(Ctx().get(), complete, &ignored).ok());
  EXPECT_EQ(ignored.status(), v1::IMAGE_STATUS_ACTIVE);

  v1::DeleteImageRequest del;
  *del.mutable_caller() = Caller("p2");
  del.set_id(img.id());
  v1::DeleteImageResponse deleted;
  EXPECT_EQ(image_stub_->DeleteImage(Ctx().get(), del, &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
  *del.mutable_caller() = Caller("p1");
  ASSERT_TRUE(image_stub_->DeleteImage(Ctx("req-delete-1").get(), del, &deleted).ok());
  // The request id travels from the call metadata into the task.
  EXPECT_EQ(Sql("SELECT request_id FROM tasks WHERE id = '" + deleted.task_id() + "'"),
            "req-delete-1");
  EXPECT_EQ(image_stub_->CompleteUpload(Ctx().get(), complete, &ignored).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  v1::ClaimTaskRequest claim;
  claim.set_task_id(deleted.task_id());
  claim.set_worker_id("w1");
  claim.set_lease_seconds(30);
  v1::ClaimTaskResponse claimed;
  ASSERT_TRUE(task_stub_->ClaimTask(Ctx().get(), claim, &claimed).ok());
  EXPECT_EQ(claimed.outcome(), v1::CLAIM_OUTCOME_CLAIMED);
  claim.set_task_id(NewUuid());
  EXPECT_EQ(task_stub_->ClaimTask(Ctx().get(), claim, &claimed).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::CompleteTaskRequest finish;
  finish.set_task_id(deleted.task_id());
  finish.set_worker_id("w2");
  v1::CompleteTaskResponse finished;
  EXPECT_EQ(task_stub_->CompleteTask(Ctx().get(), finish, &finished).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  finish.set_worker_id("w1");
  finish.set_success(true);
  EXPECT_TRUE(task_stub_->CompleteTask(Ctx().get(), finish, &finished).ok());
}

TEST_F(GrpcServiceTest, HealthFollowsServingState) {
  EXPECT_EQ(ProbeHealth(target_, absl::Seconds(5)).code(), absl::StatusCode::kUnavailable);
  server_->SetServing(true);
  EXPECT_TRUE(ProbeHealth(target_, absl::Seconds(5)).ok());
  server_->Shutdown(absl::Seconds(1));
  EXPECT_FALSE(ProbeHealth(target_, absl::Seconds(1)).ok());
}

}  // namespace
}  // namespace gaze::metadata
