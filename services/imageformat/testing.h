// Test helpers for services/imageformat: feeding a byte string in different chunkings, and
// builders for hand-made images of the formats qemu-img cannot produce (ISO, GPT, VMDK with a
// footer, ...) or that the tests need to bend byte by byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "services/imageformat/inspector.h"

namespace gaze::imageformat {

// gtest printers.
void PrintTo(const Inspection& inspection, std::ostream* os);
void PrintTo(const SafetyFailure& failure, std::ostream* os);

namespace testing {

// Feeds `bytes` in chunks of `chunk` bytes (0: in one piece) and finishes.
absl::StatusOr<Inspection> Inspect(std::string_view bytes, size_t chunk = 0);
// Feeds `bytes` in chunks of random sizes between 1 and `max_chunk`.
absl::StatusOr<Inspection> InspectRandomChunks(std::string_view bytes, std::mt19937_64& rng,
                                               size_t max_chunk);
// Inspects in one piece, and (gtest-)expects every other chunking to give the same answer:
// 1 byte and 7 bytes (for streams up to `small_chunk_limit` bytes), 64 KiB, and random sizes.
absl::StatusOr<Inspection> InspectAllWays(std::string_view bytes,
                                          size_t small_chunk_limit = 16 << 20);
bool SameResult(const absl::StatusOr<Inspection>& a, const absl::StatusOr<Inspection>& b);
std::string Describe(const absl::StatusOr<Inspection>& result);
// The names of the failed checks, comma-separated, in order.
std::string FailedChecks(const Inspection& inspection);

// True when the environment says this is a CI run (CI=true): missing tools fail instead of skip.
bool InCi();

void PutLe(std::string& bytes, size_t offset, uint64_t value, size_t width);
void PutBe(std::string& bytes, size_t offset, uint64_t value, size_t width);
uint32_t Crc32c(std::string_view data);

// A qcow2 header (104 bytes, then zeros up to 512) for a 1 GiB disk.
std::string Qcow2Image(uint32_t version, uint64_t backing_offset = 0,
                       uint64_t incompatible_features = 0);
// An ISO 9660 image with a primary volume descriptor: `blocks` blocks of 2048 bytes.
std::string IsoImage(uint32_t blocks);
// A 1 MiB disk whose MBR holds `partitions` (up to 4 entries of 16 bytes each).
std::string MbrDisk(std::string_view partitions);
// A 16-byte MBR partition entry.
std::string PartitionEntry(uint8_t boot, uint8_t type, uint32_t start_lba, uint32_t sectors,
                           uint8_t start_head = 0, uint8_t start_sector = 2,
                           uint8_t start_cylinder = 0);
// The protective-MBR GPT disk a partitioning tool writes.
std::string GptDisk();

// A minimal valid VHDX: identifier, region table at 192 KiB (BAT and metadata regions, correct
// CRC-32C), metadata table at 1 MiB with `extra_metadata` entries (32 bytes each) followed by the
// virtual disk size item, and the item at 1 MiB + 64 KiB.
std::string VhdxImage(uint64_t disk_size, std::string_view extra_metadata = {});
// Recomputes the region table checksum after a test changed the table.
void FixVhdxChecksum(std::string& vhdx);
// A 32-byte VHDX table entry: GUID {d1-d2-d3-d4}, then three little-endian 32-bit words
// (region table entries read the first two as a 64-bit offset).
std::string VhdxEntry(uint32_t d1, uint16_t d2, uint16_t d3, uint64_t d4, uint64_t offset,
                      uint32_t length, uint32_t flags);

// A hosted sparse VMDK of `capacity_sectors` with `descriptor` at sector 1, declared as
// `descriptor_sectors` long (and NUL-padded to that); with `footer`, gdOffset says "at end" and the
// stream ends with a footer marker, a footer copying the header, and an end-of-stream marker.
std::string SparseVmdk(std::string_view descriptor, uint64_t capacity_sectors, bool footer = false,
                       uint64_t descriptor_sectors = 20);
// A descriptor laid out as qemu-img writes it, with `create_type` and one `extent_line`.
std::string VmdkDescriptor(std::string_view create_type, std::string_view extent_line);

}  // namespace testing
}  // namespace gaze::imageformat
