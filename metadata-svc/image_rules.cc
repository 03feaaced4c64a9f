// Image defaults, ownership and update rules (see image_rules.h).
#include "metadata-svc/image_rules.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "metadata-svc/enums.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

constexpr const char* kUpdatablePaths[] = {
    "name",        "visibility",       "protected", "os_hidden", "owner",
    "disk_format", "container_format", "min_ram",   "min_disk",  "tags"};

void DedupeTags(google::protobuf::RepeatedPtrField<std::string>* tags) {
  std::set<std::string> seen;
  google::protobuf::RepeatedPtrField<std::string> unique;
  for (std::string& tag : *tags) {
    if (seen.insert(tag).second) unique.Add(std::move(tag));
  }
  tags->Swap(&unique);
}

absl::Status CheckMinimums(const v1::Image& image) {
  if (image.min_ram() < 0) return absl::InvalidArgumentError("min_ram must be non-negative");
  if (image.min_disk() < 0) return absl::InvalidArgumentError("min_disk must be non-negative");
  return absl::OkStatus();
}

absl::Status CheckVisibility(v1::Visibility v) {
  if (v == v1::VISIBILITY_UNSPECIFIED || !v1::Visibility_IsValid(v)) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid visibility value: ", v));
  }
  return absl::OkStatus();
}

bool SameOptional(bool has_a, const std::string& a, bool has_b, const std::string& b) {
  return has_a == has_b && (!has_a || a == b);
}

}  // namespace

absl::Status ImageNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("No image found with ID ", id));
}

absl::StatusOr<v1::Image> NewImage(const v1::CreateImageRequest& request) {
  const v1::Image& in = request.image();
  const v1::Caller& caller = request.caller();
  v1::Image out;
  if (in.id().empty()) {
    out.set_id(NewUuid());
  } else if (IsUuid(in.id())) {
    out.set_id(in.id());
  } else {
    return absl::InvalidArgumentError(absl::StrCat("Invalid image id: ", in.id()));
  }
  if (in.has_name()) out.set_name(in.name());
  out.set_status(v1::IMAGE_STATUS_QUEUED);
  out.set_visibility(in.visibility() == v1::VISIBILITY_UNSPECIFIED ? v1::VISIBILITY_SHARED
                                                                   : in.visibility());
  if (absl::Status s = CheckVisibility(out.visibility()); !s.ok()) return s;
  out.set_protected_(in.protected_());
  out.set_os_hidden(in.os_hidden());
  if (in.has_owner()) {
    if (!caller.is_admin() && in.owner() != caller.project_id()) {
      return absl::PermissionDeniedError(
          absl::StrCat("You are not permitted to create images owned by '", in.owner(), "'."));
    }
    out.set_owner(in.owner());
  } else if (!caller.project_id().empty()) {
    out.set_owner(caller.project_id());
  }
  if (in.has_disk_format()) out.set_disk_format(in.disk_format());
  if (in.has_container_format()) out.set_container_format(in.container_format());
  out.set_min_ram(in.min_ram());
  out.set_min_disk(in.min_disk());
  if (absl::Status s = CheckMinimums(out); !s.ok()) return s;
  *out.mutable_tags() = in.tags();
  DedupeTags(out.mutable_tags());
  *out.mutable_properties() = in.properties();
  return out;
}

absl::Status CheckMayModify(const v1::Caller& caller, const v1::Image& image) {
  if (caller.is_admin()) return absl::OkStatus();
  if (image.has_owner() && image.owner() == caller.project_id()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("You are not permitted to modify image ", image.id(), "."));
}

absl::Status ValidateUpdateMask(const v1::UpdateImageRequest& request) {
  for (const std::string& path : request.update_mask().paths()) {
    bool known = false;
    for (const char* p : kUpdatablePaths) known = known || path == p;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Cannot update path '", path, "'; allowed: ", absl::StrJoin(kUpdatablePaths, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Image> ApplyUpdate(const v1::UpdateImageRequest& request, v1::Image img) {
  if (absl::Status s = ValidateUpdateMask(request); !s.ok()) return s;
  if (request.expected_version() != 0 && request.expected_version() != img.version()) {
    return absl::AbortedError(absl::StrCat("Image ", img.id(), " was modified (version ",
                                           img.version(), ", expected ", request.expected_version(),
                                           "); re-read and retry"));
  }
  const v1::Image& in = request.image();
  const bool formats_mutable =
      img.status() == v1::IMAGE_STATUS_QUEUED || img.status() == v1::IMAGE_STATUS_IMPORTING;
  for (const std::string& path : request.update_mask().paths()) {
    if (path == "name") {
      if (in.has_name()) {
        img.set_name(in.name());
      } else {
        img.clear_name();
      }
    } else if (path == "visibility") {
      if (absl::Status s = CheckVisibility(in.visibility()); !s.ok()) return s;
      img.set_visibility(in.visibility());
    } else if (path == "protected") {
      img.set_protected_(in.protected_());
    } else if (path == "os_hidden") {
      img.set_os_hidden(in.os_hidden());
    } else if (path == "owner") {
      if (!request.caller().is_admin() &&
          !SameOptional(in.has_owner(), in.owner(), img.has_owner(), img.owner())) {
        return absl::PermissionDeniedError(
            absl::StrCat("You are not permitted to change the owner of image ", img.id(), "."));
      }
      if (in.has_owner()) {
        img.set_owner(in.owner());
      } else {
        img.clear_owner();
      }
    } else if (path == "disk_format" || path == "container_format") {
      bool disk = path == "disk_format";
      bool has = disk ? in.has_disk_format() : in.has_container_format();
      const std::string& value = disk ? in.disk_format() : in.container_format();
      bool had = disk ? img.has_disk_format() : img.has_container_format();
      const std::string& old = disk ? img.disk_format() : img.container_format();
      if (!SameOptional(has, value, had, old) && !formats_mutable) {
        return absl::PermissionDeniedError(
            absl::StrCat("Attribute ", path, " can be only replaced for a queued image."));
      }
      if (disk && has) {
        img.set_disk_format(value);
      } else if (disk) {
        img.clear_disk_format();
      } else if (has) {
        img.set_container_format(value);
      } else {
        img.clear_container_format();
      }
    } else if (path == "min_ram") {
      img.set_min_ram(in.min_ram());
    } else if (path == "min_disk") {
      img.set_min_disk(in.min_disk());
    } else if (path == "tags") {
      *img.mutable_tags() = in.tags();
      DedupeTags(img.mutable_tags());
    }
  }
  if (absl::Status s = CheckMinimums(img); !s.ok()) return s;
  for (const auto& [key, value] : request.set_properties())
    (*img.mutable_properties())[key] = value;
  for (const std::string& key : request.remove_properties()) img.mutable_properties()->erase(key);
  return img;
}

absl::StatusOr<v1::ImageStatus> StatusAfter(v1::StatusAction action, v1::ImageStatus current) {
  v1::ImageStatus from, to;
  const char* verb;
  switch (action) {
    case v1::STATUS_ACTION_DEACTIVATE:
      from = v1::IMAGE_STATUS_ACTIVE;
      to = v1::IMAGE_STATUS_DEACTIVATED;
      verb = "deactivate";
      break;
    case v1::STATUS_ACTION_REACTIVATE:
      from = v1::IMAGE_STATUS_DEACTIVATED;
      to = v1::IMAGE_STATUS_ACTIVE;
      verb = "reactivate";
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("Invalid status action: ", action));
  }
  if (current == from || current == to) return to;
  const char* name = ImageStatusName(current);
  return absl::PermissionDeniedError(
      absl::StrCat("Not allowed to ", verb, " image in status '", name ? name : "", "'"));
}

absl::Status ValidateMemberId(const std::string& member_id) {
  if (member_id.empty() || member_id.size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid member id '", member_id, "': must be 1 to 255 characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckShared(const v1::Image& image) {
  if (image.visibility() == v1::VISIBILITY_SHARED) return absl::OkStatus();
  return absl::PermissionDeniedError("Only shared images have members.");
}

bool ManagesMembers(const v1::Caller& caller, const v1::Image& image) {
  return CheckMayModify(caller, image).ok();
}

absl::Status CheckManagesMembers(const v1::Caller& caller, const v1::Image& image,
                                 const char* verb) {
  if (ManagesMembers(caller, image)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("Not allowed to ", verb, " members for image ", image.id(), "."));
}

absl::Status CheckMayUpdateMember(const v1::Caller& caller, const v1::Image& image,
                                  const std::string& member_id) {
  if (caller.is_admin() || caller.project_id() == member_id) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("Not allowed to update members for image ", image.id(), "."));
}

absl::Status MemberNotFound(const std::string& image_id, const std::string& member_id) {
  return absl::NotFoundError(
      absl::StrCat(member_id, " not found in the member list of the image ", image_id, "."));
}

}  // namespace gaze::metadata
