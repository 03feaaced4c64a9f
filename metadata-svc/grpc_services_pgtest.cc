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
    auto quotas = ProjectQuotas::Parse(R"({"projects": {"tight": {"image_count_total": 0}}})");
    ASSERT_TRUE(quotas.ok()) << quotas.status();
    images_ = std::make_unique<PgImageRepository>(
        *pool_, ListLimits{25, 1000}, ImageLimits{.properties = 128, .tags = 128, .members = 1},
        *quotas);
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

TEST_F(GrpcServiceTest, StatusMembersAndQuotasEndToEnd) {
  v1::CreateImageRequest create;
  *create.mutable_caller() = Caller("p1");
  create.mutable_image()->set_disk_format("raw");
  create.mutable_image()->set_container_format("bare");
  v1::Image img;
  ASSERT_EQ(CreateCode(create, &img), grpc::StatusCode::OK);
  v1::Image ignored;

  v1::ChangeImageStatusRequest change;
  *change.mutable_caller() = Caller("p1");
  change.set_id(img.id());
  change.set_action(v1::STATUS_ACTION_DEACTIVATE);
  grpc::Status s = image_stub_->ChangeImageStatus(Ctx().get(), change, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);  // queued
  EXPECT_EQ(s.error_message(), "Not allowed to deactivate image in status 'queued'");
  change.set_action(v1::STATUS_ACTION_UNSPECIFIED);
  EXPECT_EQ(image_stub_->ChangeImageStatus(Ctx().get(), change, &ignored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  *change.mutable_caller() = Caller("p2");
  EXPECT_EQ(image_stub_->ChangeImageStatus(Ctx().get(), change, &ignored).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::AddMemberRequest add;
  *add.mutable_caller() = Caller("p1");
  add.set_image_id(img.id());
  add.set_member_id("p2");
  v1::Member member;
  ASSERT_TRUE(image_stub_->AddMember(Ctx().get(), add, &member).ok());
  EXPECT_EQ(member.status(), v1::MEMBER_STATUS_PENDING);
  EXPECT_EQ(image_stub_->AddMember(Ctx().get(), add, &member).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  add.set_member_id("p3");
  s = image_stub_->AddMember(Ctx().get(), add, &member);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);  // one member per image here
  add.set_member_id("");
  EXPECT_EQ(image_stub_->AddMember(Ctx().get(), add, &member).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::UpdateMemberRequest update;
  *update.mutable_caller() = Caller("p1");
  update.set_image_id(img.id());
  update.set_member_id("p2");
  update.set_status(v1::MEMBER_STATUS_ACCEPTED);
  EXPECT_EQ(image_stub_->UpdateMember(Ctx().get(), update, &member).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  *update.mutable_caller() = Caller("p2");
  ASSERT_TRUE(image_stub_->UpdateMember(Ctx().get(), update, &member).ok());
  EXPECT_EQ(member.status(), v1::MEMBER_STATUS_ACCEPTED);

  v1::ListMembersRequest list;
  *list.mutable_caller() = Caller("p2");
  list.set_image_id(img.id());
  v1::ListMembersResponse members;
  ASSERT_TRUE(image_stub_->ListMembers(Ctx().get(), list, &members).ok());
  ASSERT_EQ(members.members_size(), 1);
  EXPECT_EQ(members.members(0).member_id(), "p2");
  *list.mutable_caller() = Caller("p3");
  EXPECT_EQ(image_stub_->ListMembers(Ctx().get(), list, &members).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::GetMemberRequest get;
  *get.mutable_caller() = Caller("p1");
  get.set_image_id(img.id());
  get.set_member_id("p9");
  EXPECT_EQ(image_stub_->GetMember(Ctx().get(), get, &member).error_code(),
            grpc::StatusCode::NOT_FOUND);
  get.set_member_id("p2");
  ASSERT_TRUE(image_stub_->GetMember(Ctx().get(), get, &member).ok());

  v1::DeleteMemberRequest remove;
  *remove.mutable_caller() = Caller("p2");
  remove.set_image_id(img.id());
  remove.set_member_id("p2");
  v1::DeleteMemberResponse removed;
  EXPECT_EQ(image_stub_->DeleteMember(Ctx().get(), remove, &removed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  *remove.mutable_caller() = Caller("p1");
  ASSERT_TRUE(image_stub_->DeleteMember(Ctx().get(), remove, &removed).ok());
  EXPECT_EQ(image_stub_->DeleteMember(Ctx().get(), remove, &removed).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::UpdateImageRequest to_private;
  *to_private.mutable_caller() = Caller("p1");
  to_private.set_id(img.id());
  to_private.mutable_update_mask()->add_paths("visibility");
  to_private.mutable_image()->set_visibility(v1::VISIBILITY_PRIVATE);
  ASSERT_TRUE(image_stub_->UpdateImage(Ctx().get(), to_private, &ignored).ok());
  add.set_member_id("p2");
  s = image_stub_->AddMember(Ctx().get(), add, &member);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "Only shared images have members.");

  // Per-project quotas: "tight" may hold no image.
  *create.mutable_caller() = Caller("tight");
  s = image_stub_->CreateImage(Ctx().get(), create, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(),
            "Project tight is over a limit for [Resource image_count_total is over limit of 0 "
            "due to current usage 0 and delta 1]");
  v1::GetUsageRequest usage_req;
  *usage_req.mutable_caller() = Caller("tight");
  v1::GetUsageResponse usage;
  ASSERT_TRUE(image_stub_->GetUsage(Ctx().get(), usage_req, &usage).ok());
  ASSERT_EQ(usage.usage_size(), 1);
  EXPECT_EQ(usage.usage(0).resource(), "image_count_total");
  EXPECT_EQ(usage.usage(0).limit(), 0);
  *usage_req.mutable_caller() = Caller("p1");
  ASSERT_TRUE(image_stub_->GetUsage(Ctx().get(), usage_req, &usage).ok());
  EXPECT_EQ(usage.usage_size(), 0);

  // Deactivation round trip through an upload.
  v1::BeginUploadRequest begin;
  *begin.mutable_caller() = Caller("p1");
  begin.set_id(img.id());
  begin.set_upload_id("u1");
  begin.set_object_url("file:///d/x");
  begin.set_lease_seconds(30);
  begin.set_declared_size(3);
  v1::BeginUploadResponse begun;
  ASSERT_TRUE(image_stub_->BeginUpload(Ctx().get(), begin, &begun).ok());
  EXPECT_FALSE(begun.has_remaining_bytes());
  v1::CompleteUploadRequest complete;
  complete.set_id(img.id());
  complete.set_upload_id("u1");
  complete.set_size(3);
  complete.mutable_location()->set_url("file:///d/x");
  ASSERT_TRUE(image_stub_->CompleteUpload(Ctx().get(), complete, &ignored).ok());
  *change.mutable_caller() = Caller("p1");
  change.set_action(v1::STATUS_ACTION_DEACTIVATE);
  ASSERT_TRUE(image_stub_->ChangeImageStatus(Ctx("req-deactivate").get(), change, &ignored).ok());
  EXPECT_EQ(ignored.status(), v1::IMAGE_STATUS_DEACTIVATED);
  change.set_action(v1::STATUS_ACTION_REACTIVATE);
  ASSERT_TRUE(image_stub_->ChangeImageStatus(Ctx().get(), change, &ignored).ok());
  EXPECT_EQ(ignored.status(), v1::IMAGE_STATUS_ACTIVE);
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
