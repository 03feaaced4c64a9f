// VHDX (oslo.utils VHDXInspector): "vhdxfile" at offset 0; the region table at 192 KiB points at
// the metadata region, whose table points at the Virtual Disk Size item. Everything is
// little-endian and identified by Microsoft GUIDs.
// https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-vhdx/83e061f8-f6e2-4de1-91bd-5d518a43d477
//
// oslo only follows the pointers and has no safety check; here the region table also has to be
// sane the way qemu's vhdx driver and the spec require (signature, CRC-32C, entry count, 1 MiB
// aligned non-overlapping regions, exactly one BAT and one metadata region, no unknown required
// region), and a VHDX whose metadata names a parent (a differencing disk) is refused.
#include <algorithm>
#include <array>
#include <limits>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/imageformat/probe.h"

namespace gaze::imageformat::internal {
namespace {

using namespace std::string_view_literals;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kRegionTableOffset = 192 * 1024;
constexpr uint64_t kRegionTableSize = 64 * 1024;
// The metadata table: a 32-byte header and up to 2047 32-byte entries. Items live after it.
constexpr uint64_t kMetadataTableSize = 64 * 1024;
constexpr uint64_t kMaxEntries = 2047;

using Guid = std::array<uint8_t, 16>;

// The on-disk bytes of the GUID written {d1-d2-d3-d4}: the first three fields little-endian.
constexpr Guid MsGuid(uint32_t d1, uint16_t d2, uint16_t d3, uint64_t d4) {
  Guid g{};
  for (size_t i = 0; i < 4; ++i) g[i] = static_cast<uint8_t>(d1 >> (8 * i));
  for (size_t i = 0; i < 2; ++i) g[4 + i] = static_cast<uint8_t>(d2 >> (8 * i));
  for (size_t i = 0; i < 2; ++i) g[6 + i] = static_cast<uint8_t>(d3 >> (8 * i));
  for (size_t i = 0; i < 8; ++i) g[8 + i] = static_cast<uint8_t>(d4 >> (8 * (7 - i)));
  return g;
}

constexpr Guid kBatRegion = MsGuid(0x2DC27766, 0xF623, 0x4200, 0x9D64115E9BFD4A08);
constexpr Guid kMetadataRegion = MsGuid(0x8B7CA206, 0x4790, 0x4B9A, 0xB8FE575F050F886E);
constexpr Guid kVirtualDiskSize = MsGuid(0x2FA54224, 0xCD1B, 0x4876, 0xB2115DBED83BF4B8);
constexpr Guid kParentLocator = MsGuid(0xA8D35F2D, 0xB30B, 0x454D, 0xABF7D3D84834AB0C);

bool Is(std::string_view bytes, const Guid& guid) {
  return std::equal(guid.begin(), guid.end(), bytes.begin(),
                    [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); });
}

std::string GuidText(std::string_view b) {
  return absl::StrFormat("%08X-%04X-%04X-%04X-%012X", LoadLe(b, 0, 4), LoadLe(b, 4, 2),
                         LoadLe(b, 6, 2), LoadBe(b, 8, 2), LoadBe(b, 10, 6));
}

// CRC-32C (Castagnoli), the checksum of every VHDX header structure.
uint32_t Crc32c(uint32_t crc, std::string_view data) {
  static constexpr auto kTable = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78 ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return table;
  }();
  for (char ch : data) crc = kTable[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  return crc;
}

class VhdxProbe final : public Probe {
 public:
  VhdxProbe() : Probe(ImageFormat::kVhdx) { Await(ident_, "VHDX file identifier", 0, 8); }

  Outcome Finish(uint64_t total) override {
    Outcome out;
    if (!magic_) return out;
    out.matched = true;
    out.failures = std::move(failures_);
    if (awaiting_ != nullptr && !awaiting_->complete()) {
      out.failures.push_back(Truncated(awaiting_what_, *awaiting_, total));
    } else if (disk_size_.complete()) {
      out.virtual_size = LoadLe(disk_size_.data, 0, 8);
    }
    return out;
  }

 private:
  void Await(Region& region, const char* what, uint64_t offset, uint64_t length) {
    awaiting_ = &region;
    awaiting_what_ = what;
    Want(region, offset, length);
  }

  void OnComplete(Region& region) override {
    awaiting_ = nullptr;
    if (&region == &ident_) {
      magic_ = ident_.data == "vhdxfile"sv;
      if (magic_) Await(region_table_, "VHDX region table", kRegionTableOffset, kRegionTableSize);
    } else if (&region == &region_table_) {
      ParseRegionTable();
    } else if (&region == &metadata_) {
      ParseMetadataTable();
    }
  }

  void Fail(const char* check, std::string reason) {
    failures_.push_back({check, std::move(reason)});
  }

  void ParseRegionTable() {
    const std::string_view t = region_table_.data;
    if (LoadLe(t, 0, 4) != 0x69676572) {  // "regi"
      return Fail("region_table", "the region table signature is missing");
    }
    // The checksum covers the whole 64 KiB table with its own field taken as zero; qemu refuses
    // a table that does not match.
    uint32_t crc = Crc32c(~0u, t.substr(0, 4));
    crc = Crc32c(crc, "\0\0\0\0"sv);
    crc = ~Crc32c(crc, t.substr(8));
    if (crc != LoadLe(t, 4, 4)) return Fail("region_table", "the region table checksum is wrong");
    const uint64_t count = LoadLe(t, 8, 4);
    if (count > kMaxEntries) {
      return Fail("region_table", absl::StrCat("the region table has ", count, " entries (limit ",
                                               kMaxEntries, ")"));
    }
    struct Extent {
      uint64_t offset, end;
    };
    std::vector<Extent> extents;
    int bat = 0, metadata = 0;
    for (uint64_t i = 0; i < count; ++i) {
      const std::string_view e = t.substr(16 + 32 * i, 32);
      const uint64_t offset = LoadLe(e, 16, 8);
      const uint64_t length = LoadLe(e, 24, 4);
      // Regions are 1 MiB aligned and sized and sit after the 1 MiB header section; this also
      // guarantees the metadata region starts after the region table already read.
      if (offset % kMiB != 0 || length % kMiB != 0 || offset < kMiB || length == 0 ||
          offset > std::numeric_limits<uint64_t>::max() - length) {
        return Fail("region_table", absl::StrCat("region entry ", i, " [", offset, ", +", length,
                                                 ") is not a 1 MiB aligned extent after the "
                                                 "header section"));
      }
      extents.push_back({offset, offset + length});
      if (Is(e, kBatRegion)) {
        ++bat;
      } else if (Is(e, kMetadataRegion)) {
        ++metadata;
        metadata_offset_ = offset;
        metadata_length_ = length;
      } else if (LoadLe(e, 28, 4) & 1) {
        return Fail("region_table",
                    absl::StrCat("region entry ", i, " is an unknown required region ",
                                 GuidText(e.substr(0, 16))));
      }
    }
    if (bat != 1 || metadata != 1) {
      return Fail("region_table", absl::StrCat("the region table lists ", bat, " BAT and ",
                                               metadata, " metadata regions (need one of each)"));
    }
    std::sort(extents.begin(), extents.end(),
              [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
    for (size_t i = 1; i < extents.size(); ++i) {
      if (extents[i].offset < extents[i - 1].end) {
        return Fail("region_table", absl::StrCat("regions at ", extents[i - 1].offset, " and ",
                                                 extents[i].offset, " overlap"));
      }
    }
    Await(metadata_, "VHDX metadata table", metadata_offset_, kMetadataTableSize);
  }

  void ParseMetadataTable() {
    const std::string_view m = metadata_.data;
    if (m.substr(0, 8) != "metadata"sv) {
      return Fail("metadata", "the metadata table signature is missing");
    }
    const uint64_t count = LoadLe(m, 10, 2);
    if (count > kMaxEntries) {
      return Fail("metadata", absl::StrCat("the metadata table has ", count, " entries (limit ",
                                           kMaxEntries, ")"));
    }
    std::optional<uint64_t> size_item;
    for (uint64_t i = 0; i < count; ++i) {
      const std::string_view e = m.substr(32 + 32 * i, 32);
      if (Is(e, kParentLocator)) {
        Fail("parent", "the image is a differencing VHDX that names a parent disk");
      } else if (Is(e, kVirtualDiskSize)) {
        const uint64_t offset = LoadLe(e, 16, 4);
        const uint64_t length = LoadLe(e, 20, 4);
        // Items follow the table and stay inside the region (offset and length are 32-bit, so
        // the sum cannot overflow).
        if (size_item || length != 8 || offset < kMetadataTableSize ||
            offset + length > metadata_length_) {
          return Fail("metadata", absl::StrCat("metadata entry ", i,
                                               " is not a single 8-byte virtual disk size item "
                                               "inside the metadata region"));
        }
        size_item = offset;
      }
    }
    if (!size_item) return Fail("metadata", "the metadata has no virtual disk size item");
    Await(disk_size_, "VHDX virtual disk size", metadata_offset_ + *size_item, 8);
  }

  Region ident_, region_table_, metadata_, disk_size_;
  Region* awaiting_ = nullptr;  // the region asked for last, until it completes
  const char* awaiting_what_ = "";
  bool magic_ = false;
  uint64_t metadata_offset_ = 0;
  uint64_t metadata_length_ = 0;
  std::vector<SafetyFailure> failures_;
};

}  // namespace

std::unique_ptr<Probe> MakeVhdxProbe() { return std::make_unique<VhdxProbe>(); }

}  // namespace gaze::imageformat::internal
