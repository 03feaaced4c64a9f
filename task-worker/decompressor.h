// The import "decompress" plugin: recognises gzip, zstd, bzip2 and xz data by its magic bytes
// and streams it out decompressed, so that a compressed disk image is inspected, converted and
// stored as the disk image it holds (Glance's image_decompression plugin, with the formats
// people actually compress images with).
//
// Untrusted input, hence:
//   * streamed: input and output pass through in bounded chunks, nothing is buffered whole;
//   * a limit on the decompressed bytes, checked as they come out, so a decompression bomb
//     (a few KiB that expand to terabytes) stops at the limit rather than filling the disk;
//   * one stream only: data after the end of the first compressed stream (a second member or
//     frame, or trailing garbage) is refused instead of being silently dropped or guessed at;
//   * bounded decoder memory (zstd's default window limit, an xz memory limit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace gaze::worker {

enum class Compression { kNone, kGzip, kZstd, kBzip2, kXz };

// "gzip", "zstd", "bzip2", "xz"; "none".
std::string_view CompressionName(Compression compression);

// The longest magic number DetectCompression looks at.
inline constexpr size_t kCompressionMagicBytes = 6;

// The compression `head` (the first bytes of the data, up to kCompressionMagicBytes) starts
// with, or kNone.
Compression DetectCompression(std::string_view head);

// Receives bytes in order, in chunks of any size; an error stops the stream.
using ByteSink = std::function<absl::Status(const char* data, size_t size)>;

// Passes a stream on to `sink`, decompressed if its first bytes say it is compressed and as it
// is otherwise. Write() the data in chunks of any size, then Finish() once. Errors:
//   INVALID_ARGUMENT    corrupt or truncated compressed data, data after the end of the
//                       stream, a stream that needs more decoder memory than allowed;
//   RESOURCE_EXHAUSTED  the output would exceed `max_output` bytes;
//   the sink's errors, unchanged.
// After an error the object must not be used again.
class Decompressor {
 public:
  Decompressor(uint64_t max_output, ByteSink sink);
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
  ~Decompressor();

  absl::Status Write(const char* data, size_t size);
  absl::Status Finish();

  // What the data was compressed with (kNone until the magic bytes have been seen).
  Compression compression() const { return compression_; }
  // Bytes handed to the sink so far.
  uint64_t bytes_out() const { return bytes_out_; }

  class Codec;

 private:
  // Chooses the codec once the head is complete (or the data ended before it was).
  absl::Status Start();
  // Decodes (or copies) input to the sink.
  absl::Status Pass(const char* data, size_t size);
  // Hands output to the sink, within max_output_.
  absl::Status Emit(const char* data, size_t size);

  const uint64_t max_output_;
  ByteSink sink_;
  std::string head_;  // the first bytes, until there are enough to detect the compression
  bool started_ = false;
  Compression compression_ = Compression::kNone;
  std::unique_ptr<Codec> codec_;
  std::vector<char> buffer_;  // the codec's output
  bool ended_ = false;        // the codec decoded the end of its stream
  uint64_t bytes_out_ = 0;
};

}  // namespace gaze::worker
