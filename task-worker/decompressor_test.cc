// The decompress plugin's decoder: round trips of every format in chunks of every size,
// pass-through of uncompressed data, and the hostile cases: truncated, corrupt, concatenated,
// trailing garbage, and bombs.
#include "task-worker/decompressor.h"

#include <algorithm>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "task-worker/testing/compress.h"

namespace gaze::worker {
namespace {

using ::testing::HasSubstr;
using testing::Compress;

constexpr Compression kCompressed[] = {Compression::kGzip, Compression::kZstd,
                                       Compression::kBzip2, Compression::kXz};

// Compressible but not trivial: a disk image has both.
std::string SampleData(size_t size) {
  std::mt19937 random(42);
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    data[i] = (i / 4096) % 2 == 0 ? static_cast<char>(random() % 16) : '\0';
  }
  return data;
}

struct Output {
  std::string bytes;
  size_t largest_chunk = 0;
};

// Feeds `input` in chunks of `chunk` bytes; the status of the first failing call.
absl::Status Decompress(std::string_view input, size_t chunk, Output& out,
                        uint64_t max_output = uint64_t{1} << 40, Compression* seen = nullptr) {
  Decompressor d(max_output, [&](const char* data, size_t size) {
    out.bytes.append(data, size);
    out.largest_chunk = std::max(out.largest_chunk, size);
    return absl::OkStatus();
  });
  for (size_t at = 0; at < input.size(); at += chunk) {
    absl::Status s = d.Write(input.data() + at, std::min(chunk, input.size() - at));
    if (!s.ok()) return s;
  }
  absl::Status finished = d.Finish();
  if (seen != nullptr) *seen = d.compression();
  EXPECT_EQ(d.bytes_out(), out.bytes.size());
  return finished;
}

TEST(Decompressor, RoundTripsEveryFormatInChunksOfAnySize) {
  const std::string data = SampleData(3 << 20);
  for (Compression c : kCompressed) {
    const std::string compressed = Compress(c, data);
    for (size_t chunk : {size_t{1} << 20, size_t{4093}, size_t{7}}) {
      if (chunk == 7 && c != Compression::kGzip) continue;  // one byte-wise run is enough
      Output out;
      Compression seen = Compression::kNone;
      ASSERT_TRUE(Decompress(compressed, chunk, out, uint64_t{1} << 40, &seen).ok())
          << CompressionName(c) << " chunk " << chunk;
      EXPECT_EQ(seen, c);
      EXPECT_TRUE(out.bytes == data) << CompressionName(c) << " chunk " << chunk;
      EXPECT_LE(out.largest_chunk, size_t{256} << 10) << "output is streamed in bounded chunks";
    }
  }
}

TEST(Decompressor, HeadSplitAcrossWritesIsDetected) {
  const std::string compressed = Compress(Compression::kXz, "hello, world");
  Output out;
  ASSERT_TRUE(Decompress(compressed, 1, out).ok());
  EXPECT_EQ(out.bytes, "hello, world");
}

TEST(Decompressor, UncompressedDataPassesThrough) {
  for (const std::string& data : {std::string(), std::string("ab"), std::string("QFI\xfb", 4),
                                  SampleData(1 << 20)}) {
    Output out;
    Compression seen = Compression::kGzip;
    ASSERT_TRUE(Decompress(data, 1000, out, uint64_t{1} << 40, &seen).ok());
    EXPECT_EQ(seen, Compression::kNone);
    EXPECT_TRUE(out.bytes == data);
  }
}

TEST(Decompressor, DetectsByMagic) {
  EXPECT_EQ(DetectCompression(std::string("\x1f\x8b\x08\0\0\0", 6)), Compression::kGzip);
  EXPECT_EQ(DetectCompression(std::string("\x1f\x8b\x07\0\0\0", 6)), Compression::kNone)
      << "gzip knows only deflate";
  EXPECT_EQ(DetectCompression("\x28\xb5\x2f\xfd\x00\x00"), Compression::kZstd);
  EXPECT_EQ(DetectCompression("BZh91AY"), Compression::kBzip2);
  EXPECT_EQ(DetectCompression("BZh0xx"), Compression::kNone);
  EXPECT_EQ(DetectCompression(std::string("\xfd" "7zXZ\0", 6)), Compression::kXz);
  EXPECT_EQ(DetectCompression("\xfd" "7zX"), Compression::kNone) << "too short to tell";
}

TEST(Decompressor, TruncatedInputIsRefused) {
  const std::string data = SampleData(1 << 20);
  for (Compression c : kCompressed) {
    const std::string compressed = Compress(c, data);
    for (size_t keep : {compressed.size() - 1, compressed.size() / 2, size_t{8}}) {
      Output out;
      absl::Status s = Decompress(compressed.substr(0, keep), 4096, out);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << CompressionName(c) << " " << keep;
    }
  }
}

TEST(Decompressor, CorruptInputIsRefused) {
  const std::string data = SampleData(1 << 20);
  for (Compression c : kCompressed) {
    std::string compressed = Compress(c, data);
    for (size_t i = compressed.size() / 3; i < compressed.size() / 3 + 64; ++i) {
      compressed[i] = static_cast<char>(compressed[i] ^ 0x5a);
    }
    Output out;
    absl::Status s = Decompress(compressed, 4096, out);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << CompressionName(c) << ": " << s;
  }
}

TEST(Decompressor, ASecondStreamOrTrailingBytesAreRefused) {
  for (Compression c : kCompressed) {
    const std::string one = Compress(c, "first");
    for (const std::string& tail : {Compress(c, "second"), std::string("garbage")}) {
      Output out;
      absl::Status s = Decompress(one + tail, 3, out);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << CompressionName(c);
      EXPECT_THAT(s.message(), HasSubstr("single compressed stream"));
    }
  }
}

TEST(Decompressor, BombsStopAtTheLimit) {
  // 64 MiB of zeros compress to a few KiB; the limit is 1 MiB.
  const std::string zeros(64 << 20, '\0');
  for (Compression c : kCompressed) {
    const std::string bomb = Compress(c, zeros);
    ASSERT_LT(bomb.size(), size_t{1} << 20) << CompressionName(c);
    Output out;
    absl::Status s = Decompress(bomb, 4096, out, uint64_t{1} << 20);
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << CompressionName(c);
    EXPECT_LE(out.bytes.size(), size_t{1} << 20) << "nothing passes the limit";
  }
  Output out;
  EXPECT_EQ(Decompress(zeros, 4096, out, 1000).code(), absl::StatusCode::kResourceExhausted)
      << "uncompressed data has the same limit";
}

TEST(Decompressor, TheSinksErrorIsReturnedUnchanged) {
  const std::string compressed = Compress(Compression::kZstd, SampleData(1 << 20));
  Decompressor d(uint64_t{1} << 40,
                 [](const char*, size_t) { return absl::UnavailableError("disk gone"); });
  absl::Status s = d.Write(compressed.data(), compressed.size());
  EXPECT_EQ(s, absl::UnavailableError("disk gone"));
}

}  // namespace
}  // namespace gaze::worker
