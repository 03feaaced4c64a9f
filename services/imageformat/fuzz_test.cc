// Random and mutated input: the inspector must never crash or read out of bounds (run this under
// ASan+UBSan), and its answer must not depend on how the stream is cut into chunks.
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "services/imageformat/inspector.h"
#include "services/imageformat/testing.h"

namespace gaze::imageformat {
namespace {

using testing::Describe;
using testing::SameResult;

struct Seed {
  const char* name;
  std::string bytes;
  // Where the structures the probes parse live; mutations land there.
  std::vector<std::pair<size_t, size_t>> hot;
};

std::vector<Seed> Seeds() {
  constexpr size_t kMiB = 1 << 20;
  std::string luks(4096, '\0');
  luks.replace(0, 6, "LUKS\xba\xbe");
  testing::PutBe(luks, 6, 1, 2);
  testing::PutBe(luks, 104, 4, 4);
  std::string vhd(1024, '\0');
  vhd.replace(0, 8, "conectix");
  std::string vdi(1024, '\0');
  testing::PutLe(vdi, 0x40, 0xbeda107f, 4);
  std::string qed(1024, '\0');
  qed.replace(0, 4, std::string("QED\0", 4));
  const std::string sparse = testing::VmdkDescriptor("monolithicSparse", "RW 8 SPARSE \"d\"");
  const std::string stream = testing::VmdkDescriptor("streamOptimized", "RW 8 SPARSE \"d\"");
  std::string flat = testing::VmdkDescriptor("monolithicFlat", "RW 8 FLAT \"d-flat\" 0");
  flat.resize(1500, '\n');
  std::string vmdk_footer = testing::SparseVmdk(stream, 8, true);
  const size_t footer_at = vmdk_footer.size() - 1536;
  return {
      {"qcow2", testing::Qcow2Image(3), {{0, 512}}},
      {"qed", qed, {{0, 64}}},
      {"vhd", vhd, {{0, 64}}},
      {"vdi", vdi, {{0, 0x180}}},
      {"luks", luks, {{0, 128}}},
      {"iso", testing::IsoImage(20), {{0, 512}, {32768, 2048}}},
      {"gpt", testing::GptDisk(), {{0, 1024}}},
      {"vhdx",
       testing::VhdxImage(1 << 30),
       {{0, 16}, {192 * 1024, 128}, {kMiB, 128}, {kMiB + 64 * 1024, 8}}},
      {"vmdk", testing::SparseVmdk(sparse, 8), {{0, 80}, {512, 600}}},
      {"vmdk with footer", vmdk_footer, {{0, 80}, {512, 400}, {footer_at, 1536}}},
      {"vmdk descriptor file", flat, {{0, 1500}}},
  };
}

void Mutate(std::string& bytes, const Seed& seed, std::mt19937_64& rng) {
  static constexpr uint64_t kInteresting[] = {
      0, 1, 2, 3, 0x80, 0xff, 0x200, 0x7fffffff, 511, 65536, 1 << 20, 0xffffffff, ~uint64_t{0}};
  const int mutations = 1 + static_cast<int>(rng() % 8);
  for (int m = 0; m < mutations; ++m) {
    const auto& [start, length] = seed.hot[rng() % seed.hot.size()];
    const size_t at = start + rng() % length;
    if (at >= bytes.size()) continue;
    switch (rng() % 4) {
      case 0:
        bytes[at] = static_cast<char>(rng());
        break;
      case 1:
        bytes[at] ^= static_cast<char>(1 << (rng() % 8));
        break;
      default: {
        const size_t width = size_t{1} << (rng() % 4);
        if (at + width > bytes.size()) break;
        const uint64_t value = kInteresting[rng() % std::size(kInteresting)];
        if (rng() % 2) {
          testing::PutLe(bytes, at, value, width);
        } else {
          testing::PutBe(bytes, at, value, width);
        }
      }
    }
  }
}

TEST(InspectorFuzzTest, MutatedHeadersNeverCrashAndIgnoreChunking) {
  std::mt19937_64 rng(20261125);
  for (const Seed& seed : Seeds()) {
    SCOPED_TRACE(seed.name);
    const int rounds = seed.bytes.size() > (1 << 20) ? 150 : 600;
    for (int round = 0; round < rounds; ++round) {
      std::string bytes = seed.bytes;
      Mutate(bytes, seed, rng);
      // Keep the VHDX checksum right half the time, so mutations reach past the region table.
      if (std::string_view(seed.name) == "vhdx" && rng() % 2) testing::FixVhdxChecksum(bytes);
      if (rng() % 8 == 0) bytes.resize(rng() % (bytes.size() + 1));
      const absl::StatusOr<Inspection> whole = testing::Inspect(bytes);
      const absl::StatusOr<Inspection> chunked =
          bytes.size() <= 64 * 1024 && rng() % 4 == 0
              ? testing::Inspect(bytes, 1)
              : testing::InspectRandomChunks(bytes, rng, 1 + rng() % 70000);
      ASSERT_TRUE(SameResult(whole, chunked))
          << "round " << round << "\nwhole:   " << Describe(whole)
          << "\nchunked: " << Describe(chunked);
    }
  }
}

TEST(InspectorFuzzTest, RandomBytesNeverCrashAndIgnoreChunking) {
  std::mt19937_64 rng(7);
  const std::string magics[] = {
      "QFI\xfb",      std::string("QED\0", 4),  "conectix", "vhdxfile", "KDMV",
      "LUKS\xba\xbe", "# Disk DescriptorFile\n"};
  for (int round = 0; round < 1500; ++round) {
    std::string bytes(rng() % 80000, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const std::string& magic = magics[rng() % std::size(magics)];
    if (rng() % 2 && bytes.size() >= magic.size()) bytes.replace(0, magic.size(), magic);
    if (rng() % 4 == 0 && bytes.size() >= 512) testing::PutLe(bytes, 510, 0xaa55, 2);
    if (rng() % 4 == 0 && bytes.size() >= 32774) bytes.replace(32769, 5, "CD001");
    const absl::StatusOr<Inspection> whole = testing::Inspect(bytes);
    const absl::StatusOr<Inspection> chunked =
        testing::InspectRandomChunks(bytes, rng, 1 + rng() % 5000);
    ASSERT_TRUE(SameResult(whole, chunked)) << "round " << round << "\nwhole:   " << Describe(whole)
                                            << "\nchunked: " << Describe(chunked);
  }
}

}  // namespace
}  // namespace gaze::imageformat
