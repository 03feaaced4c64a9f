// Test helpers for services/imageformat (see testing.h).
#include "services/imageformat/testing.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace gaze::imageformat {

void PrintTo(const SafetyFailure& failure, std::ostream* os) {
  *os << failure.check << ": " << failure.reason;
}

void PrintTo(const Inspection& inspection, std::ostream* os) {
  *os << "{" << FormatName(inspection.format) << ", virtual_size="
      << (inspection.virtual_size ? std::to_string(*inspection.virtual_size) : "unknown")
      << ", bytes=" << inspection.bytes << ", failures=[";
  for (size_t i = 0; i < inspection.failures.size(); ++i) {
    if (i > 0) *os << "; ";
    PrintTo(inspection.failures[i], os);
  }
  *os << "]}";
}

namespace testing {

absl::StatusOr<Inspection> Inspect(std::string_view bytes, size_t chunk) {
  Inspector inspector;
  if (chunk == 0) chunk = std::max<size_t>(bytes.size(), 1);
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    inspector.Feed(bytes.data() + off, std::min(chunk, bytes.size() - off));
  }
  return inspector.Finish();
}

absl::StatusOr<Inspection> InspectRandomChunks(std::string_view bytes, std::mt19937_64& rng,
                                               size_t max_chunk) {
  Inspector inspector;
  std::uniform_int_distribution<size_t> size(1, max_chunk);
  for (size_t off = 0; off < bytes.size();) {
    const size_t n = std::min(size(rng), bytes.size() - off);
    inspector.Feed(bytes.data() + off, n);
    off += n;
  }
  return inspector.Finish();
}

bool SameResult(const absl::StatusOr<Inspection>& a, const absl::StatusOr<Inspection>& b) {
  if (a.ok() != b.ok()) return false;
  return a.ok() ? *a == *b : a.status() == b.status();
}

std::string Describe(const absl::StatusOr<Inspection>& result) {
  if (!result.ok()) return result.status().ToString();
  std::ostringstream os;
  PrintTo(*result, &os);
  return os.str();
}

std::string FailedChecks(const Inspection& inspection) {
  std::string out;
  for (const SafetyFailure& f : inspection.failures) {
    absl::StrAppend(&out, out.empty() ? "" : ",", f.check);
  }
  return out;
}

absl::StatusOr<Inspection> InspectAllWays(std::string_view bytes, size_t small_chunk_limit) {
  const absl::StatusOr<Inspection> whole = Inspect(bytes);
  std::vector<size_t> chunks = {64 * 1024};
  if (bytes.size() <= small_chunk_limit) chunks.insert(chunks.end(), {1, 7});
  for (size_t chunk : chunks) {
    const absl::StatusOr<Inspection> other = Inspect(bytes, chunk);
    EXPECT_TRUE(SameResult(whole, other))
        << "in " << chunk << "-byte chunks: " << Describe(other) << "\nwhole: " << Describe(whole);
  }
  std::mt19937_64 rng(bytes.size());
  const absl::StatusOr<Inspection> random = InspectRandomChunks(bytes, rng, 100000);
  EXPECT_TRUE(SameResult(whole, random))
      << "in random chunks: " << Describe(random) << "\nwhole: " << Describe(whole);
  return whole;
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

void PutLe(std::string& bytes, size_t offset, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) bytes[offset + i] = static_cast<char>(value >> (8 * i));
}

void PutBe(std::string& bytes, size_t offset, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) {
    bytes[offset + i] = static_cast<char>(value >> (8 * (width - 1 - i)));
  }
}

uint32_t Crc32c(std::string_view data) {
  uint32_t crc = ~0u;
  for (char ch : data) {
    crc ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? 0x82F63B78 ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}

std::string Qcow2Image(uint32_t version, uint64_t backing_offset, uint64_t incompatible_features) {
  std::string b(512, '\0');
  b.replace(0, 4, "QFI\xfb");
  PutBe(b, 4, version, 4);
  PutBe(b, 8, backing_offset, 8);
  PutBe(b, 20, 16, 4);                 // cluster_bits
  PutBe(b, 24, uint64_t{1} << 30, 8);  // size
  PutBe(b, 72, incompatible_features, 8);
  PutBe(b, 100, 104, 4);  // header_length
  return b;
}

std::string IsoImage(uint32_t blocks) {
  std::string b(std::max<size_t>(uint64_t{blocks} * 2048, 36 * 1024), '\0');
  const size_t pvd = 16 * 2048;
  b[pvd] = 1;  // primary volume descriptor
  b.replace(pvd + 1, 5, "CD001");
  b[pvd + 6] = 1;
  PutLe(b, pvd + 80, blocks, 4);  // volume space size, both-endian
  PutBe(b, pvd + 84, blocks, 4);
  PutLe(b, pvd + 128, 2048, 2);  // logical block size, both-endian
  PutBe(b, pvd + 130, 2048, 2);
  b[pvd + 2048] = static_cast<char>(0xff);  // volume descriptor set terminator
  b.replace(pvd + 2049, 5, "CD001");
  return b;
}

std::string PartitionEntry(uint8_t boot, uint8_t type, uint32_t start_lba, uint32_t sectors,
                           uint8_t start_head, uint8_t start_sector, uint8_t start_cylinder) {
  std::string e(16, '\0');
  e[0] = static_cast<char>(boot);
  e[1] = static_cast<char>(start_head);
  e[2] = static_cast<char>(start_sector);
  e[3] = static_cast<char>(start_cylinder);
  e[4] = static_cast<char>(type);
  e[5] = e[6] = e[7] = static_cast<char>(0xff);
  PutLe(e, 8, start_lba, 4);
  PutLe(e, 12, sectors, 4);
  return e;
}

std::string MbrDisk(std::string_view partitions) {
  std::string b(1 << 20, '\0');
  b.replace(446, partitions.size(), partitions);
  PutLe(b, 510, 0xaa55, 2);
  return b;
}

std::string GptDisk() {
  std::string b = MbrDisk(PartitionEntry(0, 0xee, 1, (1 << 20) / 512 - 1));
  b.replace(512, 8, "EFI PART");
  return b;
}

std::string VhdxEntry(uint32_t d1, uint16_t d2, uint16_t d3, uint64_t d4, uint64_t offset,
                      uint32_t length, uint32_t flags) {
  std::string e(32, '\0');
  PutLe(e, 0, d1, 4);
  PutLe(e, 4, d2, 2);
  PutLe(e, 6, d3, 2);
  PutBe(e, 8, d4, 8);
  PutLe(e, 16, offset, 8);  // region entry: 64-bit offset; metadata entry: offset, length
  PutLe(e, 24, length, 4);
  PutLe(e, 28, flags, 4);
  return e;
}

void FixVhdxChecksum(std::string& vhdx) {
  const size_t table = 192 * 1024;
  PutLe(vhdx, table + 4, 0, 4);
  PutLe(vhdx, table + 4, Crc32c(std::string_view(vhdx).substr(table, 64 * 1024)), 4);
}

std::string VhdxImage(uint64_t disk_size, std::string_view extra_metadata) {
  constexpr size_t kMiB = 1 << 20;
  std::string b(kMiB + 64 * 1024 + 8, '\0');
  b.replace(0, 8, "vhdxfile");
  const size_t table = 192 * 1024;
  b.replace(table, 4, "regi");
  PutLe(b, table + 8, 2, 4);
  b.replace(table + 16, 32,
            VhdxEntry(0x2DC27766, 0xF623, 0x4200, 0x9D64115E9BFD4A08, 2 * kMiB, kMiB,
                      1));  // BAT (its contents are not read)
  b.replace(table + 48, 32,
            VhdxEntry(0x8B7CA206, 0x4790, 0x4B9A, 0xB8FE575F050F886E, kMiB, kMiB, 1));  // metadata
  FixVhdxChecksum(b);
  b.replace(kMiB, 8, "metadata");
  const size_t extra = extra_metadata.size() / 32;
  PutLe(b, kMiB + 10, extra + 1, 2);
  b.replace(kMiB + 32, extra_metadata.size(), extra_metadata);
  std::string size_entry = VhdxEntry(0x2FA54224, 0xCD1B, 0x4876, 0xB2115DBED83BF4B8, 0, 0, 0);
  PutLe(size_entry, 16, 64 * 1024, 4);  // item offset
  PutLe(size_entry, 20, 8, 4);          // item length
  b.replace(kMiB + 32 + extra_metadata.size(), 32, size_entry);
  PutLe(b, kMiB + 64 * 1024, disk_size, 8);
  return b;
}

std::string VmdkDescriptor(std::string_view create_type, std::string_view extent_line) {
  return absl::StrCat("# Disk DescriptorFile\nversion=1\nCID=972f8d68\nparentCID=ffffffff\n",
                      "createType=\"", std::string(create_type), "\"\n\n# Extent description\n",
                      std::string(extent_line),
                      "\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n"
                      "ddb.adapterType = \"ide\"\n");
}

std::string SparseVmdk(std::string_view descriptor, uint64_t capacity_sectors, bool footer,
                       uint64_t descriptor_sectors) {
  std::string header(512, '\0');
  header.replace(0, 4, "KDMV");
  PutLe(header, 4, 3, 4);                    // version
  PutLe(header, 8, 0x30003, 4);              // flags
  PutLe(header, 12, capacity_sectors, 8);    // capacity
  PutLe(header, 20, 128, 8);                 // grain size
  PutLe(header, 28, 1, 8);                   // descriptor offset (sectors)
  PutLe(header, 36, descriptor_sectors, 8);  // descriptor size (sectors)
  PutLe(header, 44, 512, 4);                 // GTEs per GT
  PutLe(header, 48, 21, 8);                  // redundant GD
  const uint64_t gd = 30;
  PutLe(header, 56, footer ? ~uint64_t{0} : gd, 8);
  header.replace(73, 4, "\n \r\n");
  std::string b = header;
  std::string desc(descriptor);
  desc.resize(std::max<size_t>(desc.size(), descriptor_sectors * 512), '\0');
  b += desc;
  b.resize(b.size() + 64 * 1024, '\0');  // stand-in for grain tables and grains
  if (footer) {
    std::string marker(512, '\0');
    PutLe(marker, 0, 1, 8);   // one sector follows
    PutLe(marker, 12, 3, 4);  // MARKER_FOOTER
    std::string copy = header;
    PutLe(copy, 56, gd, 8);
    b += marker + copy + std::string(512, '\0');  // ... and the end-of-stream marker
  }
  return b;
}

}  // namespace testing
}  // namespace gaze::imageformat
