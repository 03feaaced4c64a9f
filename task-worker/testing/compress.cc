#include "task-worker/testing/compress.h"

#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdlib>
#include <cstring>

namespace gaze::worker::testing {
namespace {

std::string Gzip(std::string_view data) {
  z_stream z{};
  // 16 + MAX_WBITS: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    std::abort();
  }
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// With a content checksum, as the zstd command line writes by default.
std::string Zstd(std::string_view data) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress2(cctx, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(n)) std::abort();
  out.resize(n);
  return out;
}

std::string Bzip2(std::string_view data) {
  unsigned int size = static_cast<unsigned int>(data.size() + data.size() / 100 + 600);
  std::string out(size, '\0');
  if (BZ2_bzBuffToBuffCompress(out.data(), &size, const_cast<char*>(data.data()),
                               static_cast<unsigned int>(data.size()), 9, 0, 0) != BZ_OK) {
    std::abort();
  }
  out.resize(size);
  return out;
}

std::string Xz(std::string_view data) {
  std::string out(lzma_stream_buffer_bound(data.size()), '\0');
  size_t pos = 0;
  if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr,
                              reinterpret_cast<const uint8_t*>(data.data()), data.size(),
                              reinterpret_cast<uint8_t*>(out.data()), &pos,
                              out.size()) != LZMA_OK) {
    std::abort();
  }
  out.resize(pos);
  return out;
}

}  // namespace

std::string Compress(Compression compression, std::string_view data) {
  switch (compression) {
    case Compression::kGzip:
      return Gzip(data);
    case Compression::kZstd:
      return Zstd(data);
    case Compression::kBzip2:
      return Bzip2(data);
    case Compression::kXz:
      return Xz(data);
    case Compression::kNone:
      break;
  }
  return std::string(data);
}

}  // namespace gaze::worker::testing
