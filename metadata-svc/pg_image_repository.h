// ImageRepository on PostgreSQL: every call is one transaction on a pooled connection, and
// every status transition a compare-and-set (a locked row or a WHERE status = ... update).
#pragma once

#include "metadata-svc/image_repository.h"
#include "metadata-svc/list_query.h"
#include "metadata-svc/pg_pool.h"

namespace gaze::metadata {

class PgImageRepository final : public ImageRepository {
 public:
  // `pool` must have been created with stmt::PrepareStatements and outlive this object.
  PgImageRepository(PgPool& pool, ListLimits limits);

  absl::StatusOr<v1::Image> CreateImage(const v1::CreateImageRequest& request) override;
  absl::StatusOr<v1::Image> GetImage(const v1::GetImageRequest& request) override;
  absl::StatusOr<v1::ListImagesResponse> ListImages(const v1::ListImagesRequest& request) override;
  absl::StatusOr<v1::Image> UpdateImage(const v1::UpdateImageRequest& request) override;
  absl::StatusOr<v1::DeleteImageResponse> DeleteImage(const v1::DeleteImageRequest& request,
                                                      const std::string& request_id) override;
  absl::StatusOr<v1::BeginUploadResponse> BeginUpload(
      const v1::BeginUploadRequest& request) override;
  absl::StatusOr<v1::RenewUploadResponse> RenewUpload(
      const v1::RenewUploadRequest& request) override;
  absl::StatusOr<v1::Image> CompleteUpload(const v1::CompleteUploadRequest& request) override;
  absl::StatusOr<bool> AbortUpload(const v1::AbortUploadRequest& request) override;
  absl::StatusOr<std::vector<ReleasedUpload>> SweepExpiredUploads(int limit) override;

 private:
  PgPool& pool_;
  const ListLimits limits_;
};

}  // namespace gaze::metadata
