#include "services/store/image_hasher.h"

#include <openssl/evp.h>

#include <condition_variable>
#include <mutex>

#include "services/common/worker_pool.h"

namespace gaze::store {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string Hex(const unsigned char* data, unsigned int size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0x0f];
  }
  return out;
}

std::string FinalHex(EVP_MD_CTX* ctx) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  return Hex(md, len);
}

}  // namespace

struct ImageHasher::Impl {
  MdCtx md5{EVP_MD_CTX_new()};
  MdCtx multihash{EVP_MD_CTX_new()};
  std::string algo;
  uint64_t size = 0;
  WorkerPool* pool = nullptr;
  std::mutex mu;
  std::condition_variable md5_done_cv;
  bool md5_done = true;
};

ImageHasher::ImageHasher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImageHasher::ImageHasher(ImageHasher&&) noexcept = default;
ImageHasher& ImageHasher::operator=(ImageHasher&&) noexcept = default;
ImageHasher::~ImageHasher() = default;

absl::StatusOr<ImageHasher> ImageHasher::Create(std::string_view os_hash_algo, WorkerPool* pool) {
  std::string algo(os_hash_algo);
  const EVP_MD* md = EVP_get_digestbyname(algo.c_str());
  if (md == nullptr) return absl::InvalidArgumentError("unknown hash algorithm: " + algo);
  auto impl = std::make_unique<Impl>();
  impl->algo = std::move(algo);
  impl->pool = pool;
  if (!impl->md5 || !impl->multihash ||
      EVP_DigestInit_ex(impl->md5.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestInit_ex(impl->multihash.get(), md, nullptr) != 1) {
    return absl::InternalError("cannot initialise digests");
  }
  return ImageHasher(std::move(impl));
}

void ImageHasher::Update(const char* data, size_t size) {
  Impl* impl = impl_.get();
  impl->size += size;
  if (impl->pool == nullptr) {
    EVP_DigestUpdate(impl->md5.get(), data, size);
    EVP_DigestUpdate(impl->multihash.get(), data, size);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(impl->mu);
    impl->md5_done = false;
  }
  impl->pool->Post([impl, data, size] {
    EVP_DigestUpdate(impl->md5.get(), data, size);
    {
      std::lock_guard<std::mutex> lock(impl->mu);
      impl->md5_done = true;
    }
    impl->md5_done_cv.notify_one();
  });
  EVP_DigestUpdate(impl->multihash.get(), data, size);
  std::unique_lock<std::mutex> lock(impl->mu);
  impl->md5_done_cv.wait(lock, [impl] { return impl->md5_done; });
}

ImageDigests ImageHasher::Finish() {
  ImageDigests d;
  d.size = impl_->size;
  d.checksum = FinalHex(impl_->md5.get());
  d.os_hash_algo = impl_->algo;
  d.os_hash_value = FinalHex(impl_->multihash.get());
  return d;
}

}  // namespace gaze::store
