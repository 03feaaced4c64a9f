#include "task-worker/decompressor.h"

#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/status_macros.h"

namespace gaze::worker {
namespace {

// Output is handed to the sink in chunks of at most this size.
constexpr size_t kOutputChunk = 256 * 1024;
// xz -9 needs 65 MiB to decompress; anything asking for more than this is not an image that
// a sane tool produced.
constexpr uint64_t kXzMemoryLimit = uint64_t{256} << 20;

// zlib and bzip2 count in unsigned int; larger inputs are fed in several steps.
unsigned int ClampToUint(size_t n) {
  return static_cast<unsigned int>(std::min<size_t>(n, UINT_MAX));
}

// Debian's Abseil has its own string_view; absl's string functions take that one.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Corrupt(absl::string_view format, absl::string_view detail) {
  return absl::InvalidArgumentError(absl::StrCat("the ", format, " data is corrupt: ", detail));
}

}  // namespace

// One compressed stream's decoder. Step() decodes some of `in` into `out` and advances `in`.
class Decompressor::Codec {
 public:
  virtual ~Codec() = default;
  virtual absl::Status Step(std::string_view& in, char* out, size_t out_size, size_t* produced,
                            bool* ended) = 0;
};

namespace {

class GzipCodec final : public Decompressor::Codec {
 public:
  GzipCodec() {
    // 16 + MAX_WBITS: gzip framing only (no zlib or raw deflate), checked CRC and length.
    ok_ = inflateInit2(&z_, 16 + MAX_WBITS) == Z_OK;
  }
  ~GzipCodec() override {
    if (ok_) inflateEnd(&z_);
  }

  absl::Status Step(std::string_view& in, char* out, size_t out_size, size_t* produced,
                    bool* ended) override {
    if (!ok_) return absl::InternalError("cannot initialise zlib");
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = ClampToUint(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = ClampToUint(out_size);
    const unsigned int avail_in = z_.avail_in;
    const unsigned int avail_out = z_.avail_out;
    const int rc = inflate(&z_, Z_NO_FLUSH);
    in.remove_prefix(avail_in - z_.avail_in);
    *produced = avail_out - z_.avail_out;
    switch (rc) {
      case Z_STREAM_END:
        *ended = true;
        return absl::OkStatus();
      case Z_OK:
      case Z_BUF_ERROR:  // no progress without more input
        return absl::OkStatus();
      case Z_MEM_ERROR:
        return absl::ResourceExhaustedError("zlib is out of memory");
      default:
        return Corrupt("gzip", z_.msg != nullptr ? z_.msg : "inflate failed");
    }
  }

 private:
  z_stream z_{};
  bool ok_ = false;
};

class ZstdCodec final : public Decompressor::Codec {
 public:
  // The default window limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 128 MiB) bounds decoder memory;
  // a frame that needs more is refused.
  ZstdCodec() : dctx_(ZSTD_createDCtx()) {}
  ~ZstdCodec() override { ZSTD_freeDCtx(dctx_); }

  absl::Status Step(std::string_view& in, char* out, size_t out_size, size_t* produced,
                    bool* ended) override {
    if (dctx_ == nullptr) return absl::InternalError("cannot initialise zstd");
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    ZSTD_outBuffer output{out, out_size, 0};
    const size_t rc = ZSTD_decompressStream(dctx_, &output, &input);
    in.remove_prefix(input.pos);
    *produced = output.pos;
    if (ZSTD_isError(rc)) return Corrupt("zstd", ZSTD_getErrorName(rc));
    // 0: the frame is decoded and flushed completely.
    if (rc == 0) *ended = true;
    return absl::OkStatus();
  }

 private:
  ZSTD_DCtx* dctx_;
};

class Bzip2Codec final : public Decompressor::Codec {
 public:
  Bzip2Codec() { ok_ = BZ2_bzDecompressInit(&s_, /*verbosity=*/0, /*small=*/0) == BZ_OK; }
  ~Bzip2Codec() override {
    if (ok_) BZ2_bzDecompressEnd(&s_);
  }

  absl::Status Step(std::string_view& in, char* out, size_t out_size, size_t* produced,
                    bool* ended) override {
    if (!ok_) return absl::InternalError("cannot initialise bzip2");
    s_.next_in = const_cast<char*>(in.data());
    s_.avail_in = ClampToUint(in.size());
    s_.next_out = out;
    s_.avail_out = ClampToUint(out_size);
    const unsigned int avail_in = s_.avail_in;
    const unsigned int avail_out = s_.avail_out;
    const int rc = BZ2_bzDecompress(&s_);
    in.remove_prefix(avail_in - s_.avail_in);
    *produced = avail_out - s_.avail_out;
    switch (rc) {
      case BZ_STREAM_END:
        *ended = true;
        return absl::OkStatus();
      case BZ_OK:
        return absl::OkStatus();
      case BZ_MEM_ERROR:
        return absl::ResourceExhaustedError("bzip2 is out of memory");
      default:
        return Corrupt("bzip2", absl::StrCat("error ", rc));
    }
  }

 private:
  bz_stream s_{};
  bool ok_ = false;
};

class XzCodec final : public Decompressor::Codec {
 public:
  // No LZMA_CONCATENATED: the decoder stops at the end of the first stream.
  XzCodec() { ok_ = lzma_stream_decoder(&s_, kXzMemoryLimit, 0) == LZMA_OK; }
  ~XzCodec() override { lzma_end(&s_); }

  absl::Status Step(std::string_view& in, char* out, size_t out_size, size_t* produced,
                    bool* ended) override {
    if (!ok_) return absl::InternalError("cannot initialise liblzma");
    s_.next_in = reinterpret_cast<const uint8_t*>(in.data());
    s_.avail_in = in.size();
    s_.next_out = reinterpret_cast<uint8_t*>(out);
    s_.avail_out = out_size;
    const lzma_ret rc = lzma_code(&s_, LZMA_RUN);
    in.remove_prefix(in.size() - s_.avail_in);
    *produced = out_size - s_.avail_out;
    switch (rc) {
      case LZMA_STREAM_END:
        *ended = true;
        return absl::OkStatus();
      case LZMA_OK:
      case LZMA_BUF_ERROR:  // no progress without more input
        return absl::OkStatus();
      case LZMA_MEMLIMIT_ERROR:
        return absl::InvalidArgumentError(absl::StrCat(
            "the xz data needs more than ", kXzMemoryLimit >> 20, " MiB of memory to decompress"));
      case LZMA_MEM_ERROR:
        return absl::ResourceExhaustedError("liblzma is out of memory");
      default:
        return Corrupt("xz", absl::StrCat("error ", static_cast<int>(rc)));
    }
  }

 private:
  lzma_stream s_ = LZMA_STREAM_INIT;
  bool ok_ = false;
};

bool StartsWith(std::string_view head, std::string_view magic) {
  return head.size() >= magic.size() && head.substr(0, magic.size()) == magic;
}

}  // namespace

std::string_view CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kBzip2:
      return "bzip2";
    case Compression::kXz:
      return "xz";
    case Compression::kNone:
      break;
  }
  return "none";
}

Compression DetectCompression(std::string_view head) {
  using namespace std::string_view_literals;
  // gzip: ID1 ID2 and CM=8 (deflate, the only method defined).
  if (StartsWith(head, "\x1f\x8b\x08"sv)) return Compression::kGzip;
  if (StartsWith(head, "\x28\xb5\x2f\xfd"sv)) return Compression::kZstd;
  // bzip2: "BZh" and the block size digit.
  if (head.size() >= 4 && StartsWith(head, "BZh"sv) && head[3] >= '1' && head[3] <= '9') {
    return Compression::kBzip2;
  }
  if (StartsWith(head,
                 "\xfd"
                 "7zXZ\x00"sv))
    return Compression::kXz;
  return Compression::kNone;
}

Decompressor::Decompressor(uint64_t max_output, ByteSink sink)
    : max_output_(max_output), sink_(std::move(sink)) {}

Decompressor::~Decompressor() = default;

absl::Status Decompressor::Write(const char* data, size_t size) {
  if (!started_) {
    const size_t take = std::min(size, kCompressionMagicBytes - head_.size());
    head_.append(data, take);
    data += take;
    size -= take;
    if (head_.size() < kCompressionMagicBytes) return absl::OkStatus();
    GAZE_RETURN_IF_ERROR(Start());
  }
  return Pass(data, size);
}

absl::Status Decompressor::Finish() {
  if (!started_) GAZE_RETURN_IF_ERROR(Start());
  if (codec_ != nullptr && !ended_) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", Absl(CompressionName(compression_)), " data is truncated"));
  }
  return absl::OkStatus();
}

absl::Status Decompressor::Start() {
  started_ = true;
  compression_ = DetectCompression(head_);
  switch (compression_) {
    case Compression::kGzip:
      codec_ = std::make_unique<GzipCodec>();
      break;
    case Compression::kZstd:
      codec_ = std::make_unique<ZstdCodec>();
      break;
    case Compression::kBzip2:
      codec_ = std::make_unique<Bzip2Codec>();
      break;
    case Compression::kXz:
      codec_ = std::make_unique<XzCodec>();
      break;
    case Compression::kNone:
      break;
  }
  if (codec_ != nullptr) buffer_.resize(kOutputChunk);
  std::string head = std::move(head_);
  head_.clear();
  return Pass(head.data(), head.size());
}

absl::Status Decompressor::Emit(const char* data, size_t size) {
  if (size > max_output_ - bytes_out_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the decompressed data is larger than the limit of ", max_output_, " bytes"));
  }
  bytes_out_ += size;
  return sink_(data, size);
}

absl::Status Decompressor::Pass(const char* data, size_t size) {
  if (codec_ == nullptr) return size == 0 ? absl::OkStatus() : Emit(data, size);
  std::string_view in(data, size);
  for (;;) {
    if (ended_) {
      if (in.empty()) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat("data follows the end of the ", Absl(CompressionName(compression_)),
                       " stream; only a single compressed stream is accepted"));
    }
    const size_t before = in.size();
    size_t produced = 0;
    GAZE_RETURN_IF_ERROR(codec_->Step(in, buffer_.data(), buffer_.size(), &produced, &ended_));
    if (produced > 0) GAZE_RETURN_IF_ERROR(Emit(buffer_.data(), produced));
    // A full output buffer may leave more output inside the decoder: go round again.
    if (produced == buffer_.size()) continue;
    if (in.empty()) return absl::OkStatus();
    if (in.size() == before && produced == 0 && !ended_) {
      return absl::InternalError(
          absl::StrCat("the ", Absl(CompressionName(compression_)), " decoder is stuck"));
    }
  }
}

}  // namespace gaze::worker
