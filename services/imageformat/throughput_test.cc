// How much the inspector costs on the upload path: a 1 GiB stream fed in 1 MiB chunks. Prints
// the rate (the median of a few runs) and asserts nothing about it: timings on shared CI
// machines are noise. The bytes are never read past the header regions, so the figure is the
// per-chunk bookkeeping, not memory bandwidth.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/imageformat/inspector.h"
#include "services/imageformat/testing.h"

namespace gaze::imageformat {
namespace {

TEST(InspectorThroughputTest, OneGibibyteInOneMebibyteChunks) {
  constexpr size_t kChunk = 1 << 20;
  constexpr int kChunks = 1024;
  constexpr int kRuns = 7;
  const std::string data(kChunk, '\0');
  const std::string stream_optimized = testing::SparseVmdk(
      testing::VmdkDescriptor("streamOptimized", "RW 8 SPARSE \"d\""), 8, /*footer=*/true);
  struct Stream {
    const char* name;
    std::string head;
    ImageFormat format;
  };
  const Stream streams[] = {
      {"raw", std::string(), ImageFormat::kRaw},
      // Text could be a VMDK descriptor file: the worst case, 1 MiB is kept and searched.
      {"raw text", std::string(kChunk, 'z'), ImageFormat::kRaw},
      {"qcow2", testing::Qcow2Image(3), ImageFormat::kQcow2},
      {"vhdx", testing::VhdxImage(1 << 30), ImageFormat::kVhdx},
      // The one format whose inspection lasts the whole stream: the footer is at the end.
      {"vmdk with footer", stream_optimized.substr(0, 512 + 20 * 512), ImageFormat::kVmdk},
  };
  for (const Stream& s : streams) {
    std::string head = s.head;
    head.resize(std::max(head.size(), kChunk), '\0');
    std::vector<double> seconds;
    for (int run = 0; run < kRuns; ++run) {
      const auto start = std::chrono::steady_clock::now();
      Inspector inspector;
      const size_t head_chunks = head.size() / kChunk;
      for (size_t i = 0; i < head_chunks; ++i) inspector.Feed(head.data() + i * kChunk, kChunk);
      for (size_t i = head_chunks; i < kChunks; ++i) inspector.Feed(data.data(), data.size());
      const absl::StatusOr<Inspection> result = inspector.Finish();
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(result->format, s.format);
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[kRuns / 2];
    const double mb_per_s = double{kChunk} * kChunks / 1e6 / median;
    std::cout << "[ THROUGHPUT ] " << s.name << ": 1 GiB in 1 MiB chunks in " << median * 1e3
              << " ms (" << median * 1e9 / kChunks << " ns per chunk) = " << mb_per_s << " MB/s\n";
    RecordProperty(std::string(s.name) + "_MBps", std::to_string(static_cast<int64_t>(mb_per_s)));
  }
}

}  // namespace
}  // namespace gaze::imageformat
