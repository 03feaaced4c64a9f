// ImageRepository on PostgreSQL: every call is one transaction on a pooled connection, and
// every status transition a compare-and-set (a locked row or a WHERE status = ... update).
// The per-image limits and per-project quotas are checked inside the transaction that would
// exceed them.
#pragma once

#include "absl/time/time.h"
#include "metadata-svc/common_tags.h"
#include "metadata-svc/image_repository.h"
#include "metadata-svc/list_query.h"
#include "metadata-svc/pg_pool.h"
#include "metadata-svc/quotas.h"

namespace gaze::metadata {

// How images end, and how long the tasks their calls end stay listed.
struct LifecycleOptions {
  // Above zero (Glance's delayed_delete): DeleteImage moves an image with data to
  // PENDING_DELETE and its data is deleted only after this delay, until when RestoreImage can
  // bring it back. Zero deletes at once.
  absl::Duration delayed_delete = absl::ZeroDuration();
  // How long a finished task stays listed (Glance's task_time_to_live).
  absl::Duration task_time_to_live = absl::Hours(48);
};

class PgImageRepository final : public ImageRepository {
 public:
  // `pool` must have been created with stmt::PrepareStatements and outlive this object.
  // Without `quotas` nothing is enforced per project.
  PgImageRepository(PgPool& pool, ListLimits limits, ImageLimits image_limits = {},
                    ProjectQuotas quotas = {}, LifecycleOptions lifecycle = {});

  absl::StatusOr<v1::Image> CreateImage(const v1::CreateImageRequest& request) override;
  absl::StatusOr<v1::Image> GetImage(const v1::GetImageRequest& request) override;
  absl::StatusOr<v1::ListImagesResponse> ListImages(const v1::ListImagesRequest& request) override;
  absl::StatusOr<v1::Image> UpdateImage(const v1::UpdateImageRequest& request) override;
  absl::StatusOr<DeletedImage> DeleteImage(const v1::DeleteImageRequest& request,
                                           const std::string& request_id) override;
  absl::StatusOr<v1::BeginUploadResponse> BeginUpload(
      const v1::BeginUploadRequest& request) override;
  absl::StatusOr<v1::RenewUploadResponse> RenewUpload(
      const v1::RenewUploadRequest& request) override;
  absl::StatusOr<v1::Image> CompleteUpload(const v1::CompleteUploadRequest& request) override;
  absl::StatusOr<bool> AbortUpload(const v1::AbortUploadRequest& request) override;
  absl::StatusOr<std::vector<ReleasedUpload>> SweepExpiredUploads(int limit) override;
  absl::StatusOr<v1::Image> ChangeImageStatus(const v1::ChangeImageStatusRequest& request) override;
  absl::StatusOr<v1::GetUsageResponse> GetUsage(const v1::GetUsageRequest& request) override;

  // In pg_image_members.cc.
  absl::StatusOr<v1::Member> AddMember(const v1::AddMemberRequest& request) override;
  absl::StatusOr<v1::ListMembersResponse> ListMembers(
      const v1::ListMembersRequest& request) override;
  absl::StatusOr<v1::Member> GetMember(const v1::GetMemberRequest& request) override;
  absl::StatusOr<v1::Member> UpdateMember(const v1::UpdateMemberRequest& request) override;
  absl::Status DeleteMember(const v1::DeleteMemberRequest& request) override;

  // In pg_image_imports.cc.
  absl::StatusOr<StartedImport> StartImport(const v1::StartImportRequest& request,
                                            const std::string& request_id) override;
  absl::StatusOr<RestoredImage> RestoreImage(const v1::RestoreImageRequest& request) override;

 private:
  PgPool& pool_;
  const ListLimits limits_;
  const ImageLimits image_limits_;
  const ProjectQuotas quotas_;
  const LifecycleOptions lifecycle_;
  CommonTags common_tags_;
};

}  // namespace gaze::metadata
