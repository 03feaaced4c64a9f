// Streaming disk-image format inspection: what an uploaded or imported image really is, how big
// its virtual disk is, and whether it is safe to hand to qemu-img or a hypervisor.
//
// This is Gaze's counterpart of oslo.utils `imageutils/format_inspector.py`, which Glance runs
// over every upload and import (contract §16.2). Bytes are fed as they stream past; only the few
// header regions each format needs are copied (about 1.2 MiB at most, usually a few KiB), the rest
// is skipped without being touched, so the inspector can sit on the upload hot path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace gaze::imageformat {

// The formats oslo.utils knows. kGpt also covers legacy MBR partition tables.
enum class ImageFormat { kRaw, kQcow2, kQed, kVhd, kVhdx, kVmdk, kVdi, kIso, kGpt, kLuks };

// The oslo.utils / Glance `disk_format` name: "raw", "qcow2", ..., "vhd", "gpt", "luks".
std::string_view FormatName(ImageFormat format);
// The name `qemu-img -f` takes for such content: "vpc" for VHD, "raw" for ISO and GPT.
std::string_view QemuFormatName(ImageFormat format);

// One failed safety check. `check` is the oslo.utils check name where one exists ("backing_file",
// "data_file", "unknown_features", "descriptor", "footer", "mbr", "version", "banned"), or
// "header", "region_table", "metadata", "gptmbr", "parent" for the checks Gaze adds.
struct SafetyFailure {
  std::string check;
  std::string reason;

  bool operator==(const SafetyFailure&) const = default;
};

struct Inspection {
  ImageFormat format = ImageFormat::kRaw;
  // The size of the virtual disk the header declares (the byte count for raw); nullopt when the
  // format does not say (an ISO without a primary volume descriptor, an unsupported VMDK).
  std::optional<uint64_t> virtual_size;
  uint64_t bytes = 0;  // bytes fed
  // Empty when the image passed every check of its format.
  std::vector<SafetyFailure> failures;

  bool safe() const { return failures.empty(); }
  bool operator==(const Inspection&) const = default;
};

// Feed the whole stream, in chunks of any size, then call Finish() once. Not thread-safe.
class Inspector {
 public:
  Inspector();
  Inspector(Inspector&&) noexcept;
  Inspector& operator=(Inspector&&) noexcept;
  ~Inspector();

  void Feed(const char* data, size_t size);

  // The format the content matched (raw when no specific one did). InvalidArgument when it
  // matched more than one specific format (an ISO with a partition table counts as an ISO), as
  // Glance refuses such uploads; FailedPrecondition when called twice.
  absl::StatusOr<Inspection> Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The [image_format] options of glance-api.conf.
struct FormatPolicy {
  bool require_image_format_match = true;
  // Waives the "mbr" and "gptmbr" checks; the caller should log the failures it waives.
  bool gpt_safety_checks_nonfatal = false;
};

struct Acceptance {
  // The virtual_size to record: the header's for a matching format, the byte count when
  // disk_format is raw or not inspectable, nullopt when unknown.
  std::optional<uint64_t> virtual_size;
};

// Decides, as Glance does, whether content inspected as `inspection` may be stored under the
// claimed `disk_format`. An empty payload is always accepted (nova snapshots of volume-backed
// instances upload zero bytes as qcow2). Otherwise the detected format must be the claimed one,
// except that disk_format=raw accepts any format and a non-inspectable disk_format (ami, ari,
// aki, ploop, ...) accepts raw content; and it must pass its safety checks, even under raw.
// Refusals are InvalidArgument with a message fit for the client; uploads answer them with 415.
absl::StatusOr<Acceptance> CheckDiskFormat(const Inspection& inspection,
                                           std::string_view disk_format,
                                           const FormatPolicy& policy = {});

}  // namespace gaze::imageformat
