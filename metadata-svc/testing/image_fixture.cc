// ImageFixture (see image_fixture.h).
#include "metadata-svc/testing/image_fixture.h"

#include "google/protobuf/util/message_differencer.h"

namespace gaze::metadata::testing {

v1::Caller Caller(const std::string& project, bool admin) {
  v1::Caller c;
  c.set_project_id(project);
  c.set_is_admin(admin);
  return c;
}

bool Same(const v1::Image& a, const v1::Image& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

void ImageFixture::SetUp() {
  PgTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  pool_ = NewPool(8);
  UseLimits({});
}

void ImageFixture::UseLimits(ImageLimits image_limits, ProjectQuotas quotas) {
  repo_ = std::make_unique<PgImageRepository>(*pool_, ListLimits{25, 1000}, image_limits,
                                              std::move(quotas));
}

v1::Image ImageFixture::Create(const v1::Caller& caller,
                               const std::function<void(v1::Image&)>& edit) {
  v1::CreateImageRequest req;
  *req.mutable_caller() = caller;
  if (edit) edit(*req.mutable_image());
  auto img = repo_->CreateImage(req);
  EXPECT_TRUE(img.ok()) << img.status();
  return img.ok() ? *img : v1::Image();
}

absl::StatusOr<v1::Image> ImageFixture::Get(const v1::Caller& caller, const std::string& id) {
  v1::GetImageRequest req;
  *req.mutable_caller() = caller;
  req.set_id(id);
  return repo_->GetImage(req);
}

absl::StatusOr<v1::DeleteImageResponse> ImageFixture::Delete(const v1::Caller& caller,
                                                             const std::string& id,
                                                             const std::string& request_id) {
  v1::DeleteImageRequest req;
  *req.mutable_caller() = caller;
  req.set_id(id);
  auto deleted = repo_->DeleteImage(req, request_id);
  if (!deleted.ok()) return deleted.status();
  return deleted->response;
}

absl::StatusOr<v1::Image> ImageFixture::Update(
    const v1::Caller& caller, const std::string& id,
    const std::function<void(v1::UpdateImageRequest&)>& edit) {
  v1::UpdateImageRequest req;
  *req.mutable_caller() = caller;
  req.set_id(id);
  edit(req);
  return repo_->UpdateImage(req);
}

absl::StatusOr<v1::BeginUploadResponse> ImageFixture::Begin(const v1::Caller& caller,
                                                            const std::string& id,
                                                            const std::string& upload_id,
                                                            std::optional<int64_t> declared_size) {
  v1::BeginUploadRequest req;
  *req.mutable_caller() = caller;
  req.set_id(id);
  req.set_upload_id(upload_id);
  req.set_object_url("file:///data/" + id + "." + upload_id);
  req.set_holder("gw-1");
  req.set_lease_seconds(60);
  if (declared_size) req.set_declared_size(*declared_size);
  return repo_->BeginUpload(req);
}

absl::StatusOr<v1::Image> ImageFixture::Complete(const std::string& id,
                                                 const std::string& upload_id, int64_t size) {
  v1::CompleteUploadRequest req;
  req.set_id(id);
  req.set_upload_id(upload_id);
  req.set_size(size);
  req.set_checksum("md5");
  req.set_os_hash_algo("sha512");
  req.set_os_hash_value("sha");
  req.set_virtual_size(4096);
  req.mutable_location()->set_url("file:///data/" + id);
  (*req.mutable_location()->mutable_metadata())["store"] = "file";
  return repo_->CompleteUpload(req);
}

v1::Image ImageFixture::CreateActive(const v1::Caller& caller, int64_t size) {
  v1::Image img = Create(caller, [](v1::Image& i) {
    i.set_disk_format("raw");
    i.set_container_format("bare");
  });
  EXPECT_TRUE(Begin(caller, img.id(), "u1").ok());
  auto done = Complete(img.id(), "u1", size);
  EXPECT_TRUE(done.ok()) << done.status();
  return done.ok() ? *done : img;
}

absl::StatusOr<v1::Image> ImageFixture::ChangeStatus(const v1::Caller& caller,
                                                     const std::string& id,
                                                     v1::StatusAction action) {
  v1::ChangeImageStatusRequest req;
  *req.mutable_caller() = caller;
  req.set_id(id);
  req.set_action(action);
  return repo_->ChangeImageStatus(req);
}

absl::StatusOr<v1::ListImagesResponse> ImageFixture::List(
    const v1::Caller& caller, const std::function<void(v1::ListImagesRequest&)>& edit) {
  v1::ListImagesRequest req;
  *req.mutable_caller() = caller;
  req.set_limit(1000);
  if (edit) edit(req);
  return repo_->ListImages(req);
}

std::set<std::string> ImageFixture::ListIds(
    const v1::Caller& caller, const std::function<void(v1::ListImagesRequest&)>& edit) {
  auto r = List(caller, edit);
  EXPECT_TRUE(r.ok()) << r.status();
  std::set<std::string> ids;
  if (r.ok()) {
    for (const auto& img : r->images()) ids.insert(img.id());
  }
  return ids;
}

absl::StatusOr<v1::Member> ImageFixture::AddMember(const v1::Caller& caller,
                                                   const std::string& image_id,
                                                   const std::string& member_id) {
  v1::AddMemberRequest req;
  *req.mutable_caller() = caller;
  req.set_image_id(image_id);
  req.set_member_id(member_id);
  return repo_->AddMember(req);
}

absl::StatusOr<v1::Member> ImageFixture::GetMember(const v1::Caller& caller,
                                                   const std::string& image_id,
                                                   const std::string& member_id) {
  v1::GetMemberRequest req;
  *req.mutable_caller() = caller;
  req.set_image_id(image_id);
  req.set_member_id(member_id);
  return repo_->GetMember(req);
}

absl::StatusOr<v1::Member> ImageFixture::UpdateMember(const v1::Caller& caller,
                                                      const std::string& image_id,
                                                      const std::string& member_id,
                                                      v1::MemberStatus status) {
  v1::UpdateMemberRequest req;
  *req.mutable_caller() = caller;
  req.set_image_id(image_id);
  req.set_member_id(member_id);
  req.set_status(status);
  return repo_->UpdateMember(req);
}

absl::Status ImageFixture::DeleteMember(const v1::Caller& caller, const std::string& image_id,
                                        const std::string& member_id) {
  v1::DeleteMemberRequest req;
  *req.mutable_caller() = caller;
  req.set_image_id(image_id);
  req.set_member_id(member_id);
  return repo_->DeleteMember(req);
}

std::set<std::string> ImageFixture::ListMemberIds(const v1::Caller& caller,
                                                  const std::string& image_id) {
  v1::ListMembersRequest req;
  *req.mutable_caller() = caller;
  req.set_image_id(image_id);
  auto r = repo_->ListMembers(req);
  if (!r.ok()) return {absl::StatusCodeToString(r.status().code())};
  std::set<std::string> ids;
  for (const v1::Member& m : r->members()) ids.insert(m.member_id());
  return ids;
}

}  // namespace gaze::metadata::testing
