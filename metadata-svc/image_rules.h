// The image rules that need no database: defaults and checks for a new image, who may modify
// an image, applying an UpdateImageRequest to the current record, deactivation, and who may
// do what with an image's members. Messages use Glance's wording; the gateway passes them to
// the client.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

// The record CreateImage inserts: only the settable fields of request.image, with the
// defaults applied (a new id when empty, visibility SHARED, owner = caller's project), tags
// de-duplicated. INVALID_ARGUMENT for a malformed id, visibility or negative min_ram/min_disk;
// PERMISSION_DENIED when a non-admin names another project as owner.
absl::StatusOr<v1::Image> NewImage(const v1::CreateImageRequest& request);

// OK when the caller may modify `image` (already known to be visible): admins always, others
// only when they own it (an image without owner is admin-only). PERMISSION_DENIED otherwise.
absl::Status CheckMayModify(const v1::Caller& caller, const v1::Image& image);

// INVALID_ARGUMENT when the mask names a path UpdateImage does not accept.
absl::Status ValidateUpdateMask(const v1::UpdateImageRequest& request);

// The record after `request` is applied to `current`. ABORTED when expected_version is set
// and differs; PERMISSION_DENIED for a format change outside queued/importing or an owner
// change by a non-admin; INVALID_ARGUMENT for bad values.
absl::StatusOr<v1::Image> ApplyUpdate(const v1::UpdateImageRequest& request, v1::Image current);

// "No image found with ID <id>" (NOT_FOUND).
absl::Status ImageNotFound(const std::string& id);

// The status ChangeImageStatus moves an image in `current` to: DEACTIVATE active ->
// deactivated, REACTIVATE deactivated -> active, and `current` itself when the action is
// already done (a no-op). PERMISSION_DENIED "Not allowed to deactivate image in status 's'"
// (or reactivate) from any other status; INVALID_ARGUMENT for an unknown action.
absl::StatusOr<v1::ImageStatus> StatusAfter(v1::StatusAction action, v1::ImageStatus current);

// Members. The image passed is one the caller can see.

// INVALID_ARGUMENT unless 1..255 characters (a project id; nothing checks that it exists).
absl::Status ValidateMemberId(const std::string& member_id);
// PERMISSION_DENIED "Only shared images have members." unless `image` is shared.
absl::Status CheckShared(const v1::Image& image);
// The owner and admins see and manage every member; anyone else only its own record.
bool ManagesMembers(const v1::Caller& caller, const v1::Image& image);
// PERMISSION_DENIED "Not allowed to <verb> members for image <id>." unless ManagesMembers.
absl::Status CheckManagesMembers(const v1::Caller& caller, const v1::Image& image,
                                 const char* verb);
// Only the member project itself (or an admin) decides on a share; PERMISSION_DENIED for
// everyone else, the owner included.
absl::Status CheckMayUpdateMember(const v1::Caller& caller, const v1::Image& image,
                                  const std::string& member_id);
// "<member> not found in the member list of the image <id>." (NOT_FOUND).
absl::Status MemberNotFound(const std::string& image_id, const std::string& member_id);

}  // namespace gaze::metadata
