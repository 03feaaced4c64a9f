// A PgImageRepository on a fresh database, with shorthands for the calls the image, member,
// lifecycle and quota tests make.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "metadata-svc/pg_image_repository.h"
#include "metadata-svc/testing/test_database.h"

namespace gaze::metadata::testing {

v1::Caller Caller(const std::string& project, bool admin = false);

// Field-by-field: serialized bytes of maps are not ordered.
bool Same(const v1::Image& a, const v1::Image& b);

class ImageFixture : public PgTest {
 protected:
  void SetUp() override;

  // Rebuilds the repository with these limits (the defaults have no project quotas).
  void UseLimits(ImageLimits image_limits, ProjectQuotas quotas = {});

  v1::Image Create(const v1::Caller& caller, const std::function<void(v1::Image&)>& edit = {});
  absl::StatusOr<v1::Image> Get(const v1::Caller& caller, const std::string& id);
  absl::StatusOr<v1::DeleteImageResponse> Delete(const v1::Caller& caller, const std::string& id,
                                                 const std::string& request_id = "req-test");
  absl::StatusOr<v1::Image> Update(const v1::Caller& caller, const std::string& id,
                                   const std::function<void(v1::UpdateImageRequest&)>& edit);
  absl::StatusOr<v1::BeginUploadResponse> Begin(const v1::Caller& caller, const std::string& id,
                                                const std::string& upload_id,
                                                std::optional<int64_t> declared_size = {});
  absl::StatusOr<v1::Image> Complete(const std::string& id, const std::string& upload_id,
                                     int64_t size = 1024);
  // An active image of `caller`'s project with one location.
  v1::Image CreateActive(const v1::Caller& caller, int64_t size = 1024);
  absl::StatusOr<v1::Image> ChangeStatus(const v1::Caller& caller, const std::string& id,
                                         v1::StatusAction action);

  absl::StatusOr<v1::ListImagesResponse> List(
      const v1::Caller& caller, const std::function<void(v1::ListImagesRequest&)>& edit = {});
  std::set<std::string> ListIds(const v1::Caller& caller,
                                const std::function<void(v1::ListImagesRequest&)>& edit = {});

  absl::StatusOr<v1::Member> AddMember(const v1::Caller& caller, const std::string& image_id,
                                       const std::string& member_id);
  absl::StatusOr<v1::Member> GetMember(const v1::Caller& caller, const std::string& image_id,
                                       const std::string& member_id);
  absl::StatusOr<v1::Member> UpdateMember(const v1::Caller& caller, const std::string& image_id,
                                          const std::string& member_id, v1::MemberStatus status);
  absl::Status DeleteMember(const v1::Caller& caller, const std::string& image_id,
                            const std::string& member_id);
  // The member ids ListMembers returns, or the error's code name.
  std::set<std::string> ListMemberIds(const v1::Caller& caller, const std::string& image_id);

  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgImageRepository> repo_;
};

}  // namespace gaze::metadata::testing
