// Glance's acceptance rule for inspected content under a claimed disk_format, table-driven.
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "services/imageformat/inspector.h"
#include "services/imageformat/testing.h"

namespace gaze::imageformat {
namespace {

Inspection Detected(ImageFormat format, std::optional<uint64_t> virtual_size, uint64_t bytes,
                    std::vector<SafetyFailure> failures = {}) {
  Inspection i;
  i.format = format;
  i.virtual_size = virtual_size;
  i.bytes = bytes;
  i.failures = std::move(failures);
  return i;
}

struct Case {
  const char* name;
  Inspection inspection;
  const char* disk_format;
  FormatPolicy policy;
  bool accepted;                                        // false: refused with InvalidArgument
  std::optional<uint64_t> virtual_size = std::nullopt;  // to record, when accepted
};

const SafetyFailure kBacking{"backing_file", "the image has a backing file"};
const SafetyFailure kMbr{"mbr", "the MBR defines no partitions"};
const SafetyFailure kGptMbr{"gptmbr", "the protective MBR defines other partitions"};

TEST(CheckDiskFormatTest, FollowsGlance) {
  const FormatPolicy strict;
  const FormatPolicy lax{.require_image_format_match = false};
  const FormatPolicy gpt_lax{.gpt_safety_checks_nonfatal = true};
  const Case cases[] = {
      {"match", Detected(ImageFormat::kQcow2, 1 << 30, 1000), "qcow2", strict, true, 1 << 30},
      {"raw match", Detected(ImageFormat::kRaw, 5000, 5000), "raw", strict, true, 5000},
      {"mismatch", Detected(ImageFormat::kQcow2, 1 << 30, 1000), "vmdk", strict, false},
      {"raw content claimed qcow2", Detected(ImageFormat::kRaw, 1000, 1000), "qcow2", strict,
       false},
      {"rich format claimed raw counts bytes", Detected(ImageFormat::kQcow2, 1 << 30, 1000), "raw",
       strict, true, 1000},
      {"gpt claimed raw", Detected(ImageFormat::kGpt, 4096, 4096), "raw", strict, true, 4096},
      {"unsafe under raw claim", Detected(ImageFormat::kQcow2, 1 << 30, 1000, {kBacking}), "raw",
       strict, false},
      {"unsafe match", Detected(ImageFormat::kQcow2, 1 << 30, 1000, {kBacking}), "qcow2", strict,
       false},
      {"ami with raw content", Detected(ImageFormat::kRaw, 700, 700), "ami", strict, true, 700},
      {"aki with raw content", Detected(ImageFormat::kRaw, 700, 700), "aki", strict, true, 700},
      {"ari with raw content", Detected(ImageFormat::kRaw, 700, 700), "ari", strict, true, 700},
      {"ploop with raw content", Detected(ImageFormat::kRaw, 700, 700), "ploop", strict, true, 700},
      {"ami with qcow2 content", Detected(ImageFormat::kQcow2, 1 << 30, 700), "ami", strict, false},
      {"iso with gpt content", Detected(ImageFormat::kGpt, 4096, 4096), "iso", strict, false},
      {"empty payload claimed qcow2", Detected(ImageFormat::kRaw, 0, 0), "qcow2", strict, true, 0},
      {"empty payload claimed vmdk", Detected(ImageFormat::kRaw, 0, 0), "vmdk", strict, true, 0},
      {"mismatch allowed by policy", Detected(ImageFormat::kQcow2, 1 << 30, 1000), "vmdk", lax,
       true, 1 << 30},
      {"unsafe even when mismatches are allowed",
       Detected(ImageFormat::kQcow2, 1 << 30, 1000, {kBacking}), "vmdk", lax, false},
      {"unknown virtual size on match", Detected(ImageFormat::kIso, std::nullopt, 4096), "iso",
       strict, true, std::nullopt},
      {"mbr failure is fatal", Detected(ImageFormat::kGpt, 4096, 4096, {kMbr}), "gpt", strict,
       false},
      {"mbr failure waived", Detected(ImageFormat::kGpt, 4096, 4096, {kMbr}), "gpt", gpt_lax, true,
       4096},
      {"gptmbr failure waived", Detected(ImageFormat::kGpt, 4096, 4096, {kGptMbr}), "raw", gpt_lax,
       true, 4096},
      {"waiver covers gpt checks only", Detected(ImageFormat::kQcow2, 1, 1000, {kBacking}), "qcow2",
       gpt_lax, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const absl::StatusOr<Acceptance> got = CheckDiskFormat(c.inspection, c.disk_format, c.policy);
    if (!c.accepted) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    } else {
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->virtual_size, c.virtual_size);
    }
  }
}

TEST(CheckDiskFormatTest, RefusalsSayWhy) {
  const absl::StatusOr<Acceptance> mismatch =
      CheckDiskFormat(Detected(ImageFormat::kQcow2, 1, 1000), "vmdk");
  EXPECT_EQ(mismatch.status().message(),
            "the image content is qcow2, not the disk_format vmdk it was created with");
  const absl::StatusOr<Acceptance> unsafe = CheckDiskFormat(
      Detected(ImageFormat::kQcow2, 1, 1000, {kBacking, {"data_file", "external data"}}), "raw");
  EXPECT_EQ(unsafe.status().message(),
            "the qcow2 image failed its safety checks: backing_file: the image has a backing "
            "file; data_file: external data");
}

TEST(FormatNameTest, GlanceAndQemuNames) {
  EXPECT_EQ(FormatName(ImageFormat::kVhd), "vhd");
  EXPECT_EQ(QemuFormatName(ImageFormat::kVhd), "vpc");
  EXPECT_EQ(QemuFormatName(ImageFormat::kIso), "raw");
  EXPECT_EQ(QemuFormatName(ImageFormat::kGpt), "raw");
  EXPECT_EQ(QemuFormatName(ImageFormat::kQcow2), "qcow2");
  EXPECT_EQ(FormatName(ImageFormat::kLuks), "luks");
}

}  // namespace
}  // namespace gaze::imageformat
