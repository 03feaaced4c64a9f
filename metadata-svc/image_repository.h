// ImageRepository: the image records, their status machine, members and quotas, as the gRPC
// ImageService and the upload sweeper use them. Errors follow the error model of
// metadata.proto.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

// What DeleteImage did.
struct DeletedImage {
  v1::DeleteImageResponse response;
  // DELETED, or PENDING_DELETE when the data waits for the delayed delete.
  v1::ImageStatus status = v1::IMAGE_STATUS_UNSPECIFIED;
};

// What StartImport did.
struct StartedImport {
  v1::StartImportResponse response;
  // The task whose stale import lock was broken (now failed), or "".
  std::string preempted_task_id;
};

// What RestoreImage did.
struct RestoredImage {
  v1::Image image;
  // The delete_data task it cancelled.
  std::string cancelled_task_id;
};

// An upload whose lease expired, as the sweeper released it.
struct ReleasedUpload {
  std::string image_id;
  std::string upload_id;
  std::string holder;
  std::string object_url;
  std::string status_after;  // "queued", or the unchanged status of a deleted image
  std::string task_id;       // the delete_data task for object_url ("" without object_url)
  std::string request_id;    // the request id stamped on that task
};

class ImageRepository {
 public:
  virtual ~ImageRepository() = default;

  virtual absl::StatusOr<v1::Image> CreateImage(const v1::CreateImageRequest& request) = 0;
  virtual absl::StatusOr<v1::Image> GetImage(const v1::GetImageRequest& request) = 0;
  virtual absl::StatusOr<v1::ListImagesResponse> ListImages(
      const v1::ListImagesRequest& request) = 0;
  virtual absl::StatusOr<v1::Image> UpdateImage(const v1::UpdateImageRequest& request) = 0;
  // `request_id` is stamped on the delete_data task it may create.
  virtual absl::StatusOr<DeletedImage> DeleteImage(const v1::DeleteImageRequest& request,
                                                   const std::string& request_id) = 0;

  virtual absl::StatusOr<v1::BeginUploadResponse> BeginUpload(
      const v1::BeginUploadRequest& request) = 0;
  virtual absl::StatusOr<v1::RenewUploadResponse> RenewUpload(
      const v1::RenewUploadRequest& request) = 0;
  virtual absl::StatusOr<v1::Image> CompleteUpload(const v1::CompleteUploadRequest& request) = 0;
  // True when an upload was released, false when there was none (idempotent).
  virtual absl::StatusOr<bool> AbortUpload(const v1::AbortUploadRequest& request) = 0;

  // Releases up to `limit` uploads whose lease expired: saving (or uploading, for staging) ->
  // queued, upload cleared, and a delete_data task for the partial object, all in one
  // transaction. Safe to run from any
  // number of replicas at once (rows another sweeper holds are skipped).
  virtual absl::StatusOr<std::vector<ReleasedUpload>> SweepExpiredUploads(int limit) = 0;

  virtual absl::StatusOr<v1::Image> ChangeImageStatus(
      const v1::ChangeImageStatusRequest& request) = 0;

  virtual absl::StatusOr<v1::Member> AddMember(const v1::AddMemberRequest& request) = 0;
  virtual absl::StatusOr<v1::ListMembersResponse> ListMembers(
      const v1::ListMembersRequest& request) = 0;
  virtual absl::StatusOr<v1::Member> GetMember(const v1::GetMemberRequest& request) = 0;
  virtual absl::StatusOr<v1::Member> UpdateMember(const v1::UpdateMemberRequest& request) = 0;
  virtual absl::Status DeleteMember(const v1::DeleteMemberRequest& request) = 0;

  virtual absl::StatusOr<v1::GetUsageResponse> GetUsage(const v1::GetUsageRequest& request) = 0;

  // `request_id` is stamped on the import task.
  virtual absl::StatusOr<StartedImport> StartImport(const v1::StartImportRequest& request,
                                                    const std::string& request_id) = 0;
  virtual absl::StatusOr<RestoredImage> RestoreImage(const v1::RestoreImageRequest& request) = 0;
};

}  // namespace gaze::metadata
