// Format names, and Glance's rule for accepting inspected content under a claimed disk_format
// (contract §16.2 and §20.1).
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/imageformat/inspector.h"

namespace gaze::imageformat {
namespace {

constexpr ImageFormat kAllFormats[] = {ImageFormat::kRaw, ImageFormat::kQcow2, ImageFormat::kQed,
                                       ImageFormat::kVhd, ImageFormat::kVhdx,  ImageFormat::kVmdk,
                                       ImageFormat::kVdi, ImageFormat::kIso,   ImageFormat::kGpt,
                                       ImageFormat::kLuks};

// Whether the inspector can recognise content of this disk_format at all; ami, ari, aki, ploop
// and deployment-specific formats it cannot, so raw content is all it can say about them.
bool Inspectable(std::string_view disk_format) {
  for (ImageFormat format : kAllFormats) {
    if (FormatName(format) == disk_format) return true;
  }
  return false;
}

}  // namespace

std::string_view FormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kRaw:
      return "raw";
    case ImageFormat::kQcow2:
      return "qcow2";
    case ImageFormat::kQed:
      return "qed";
    case ImageFormat::kVhd:
      return "vhd";
    case ImageFormat::kVhdx:
      return "vhdx";
    case ImageFormat::kVmdk:
      return "vmdk";
    case ImageFormat::kVdi:
      return "vdi";
    case ImageFormat::kIso:
      return "iso";
    case ImageFormat::kGpt:
      return "gpt";
    case ImageFormat::kLuks:
      return "luks";
  }
  return "raw";
}

std::string_view QemuFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kVhd:
      return "vpc";
    case ImageFormat::kIso:
    case ImageFormat::kGpt:
      return "raw";  // qemu has no driver for them: they are raw disks to it
    default:
      return FormatName(format);
  }
}

absl::StatusOr<Acceptance> CheckDiskFormat(const Inspection& inspection,
                                           std::string_view disk_format,
                                           const FormatPolicy& policy) {
  // §20.1: nova uploads zero bytes as qcow2 for snapshots of volume-backed instances.
  if (inspection.bytes == 0) return Acceptance{0};
  const std::string detected(FormatName(inspection.format));
  const bool claimed_raw = disk_format == "raw";
  const bool matches = disk_format == detected;
  const bool raw_for_uninspectable =
      inspection.format == ImageFormat::kRaw && !Inspectable(disk_format);
  if (policy.require_image_format_match && !matches && !claimed_raw && !raw_for_uninspectable) {
    return absl::InvalidArgumentError(
        absl::StrCat("the image content is ", detected, ", not the disk_format ",
                     std::string(disk_format), " it was created with"));
  }
  // Safety checks run on the detected format even when the claim is raw: a qcow2 with a backing
  // file stored as "raw" is one `qemu-img info` away from reading host files.
  std::string unsafe;
  for (const SafetyFailure& failure : inspection.failures) {
    if (policy.gpt_safety_checks_nonfatal &&
        (failure.check == "mbr" || failure.check == "gptmbr")) {
      continue;
    }
    absl::StrAppend(&unsafe, unsafe.empty() ? "" : "; ", failure.check, ": ", failure.reason);
  }
  if (!unsafe.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", detected, " image failed its safety checks: ", unsafe));
  }
  if (matches) return Acceptance{inspection.virtual_size};
  if (claimed_raw || raw_for_uninspectable) return Acceptance{inspection.bytes};
  return Acceptance{inspection.virtual_size};  // a mismatch the policy lets through
}

}  // namespace gaze::imageformat
