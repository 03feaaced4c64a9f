#include "services/store/image_hasher.h"

#include <openssl/evp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
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

// A buffer given to UpdateAsync: whichever digest consumes it last runs `done`.
struct Chunk {
  const char* data = nullptr;
  size_t size = 0;
  std::atomic<int> left{2};
  std::function<void()> done;
};

// One digest's queue of buffers, consumed in order by at most one pool task at a time, so
// each digest runs ahead on its own instead of waiting for the other after every buffer.
struct Lane {
  EVP_MD_CTX* ctx = nullptr;
  std::mutex mu;
  std::deque<std::shared_ptr<Chunk>> queue;
  bool running = false;
};

void RunLane(Lane* lane) {
  for (;;) {
    std::shared_ptr<Chunk> chunk;
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      chunk = std::move(lane->queue.front());
      lane->queue.pop_front();
    }
    EVP_DigestUpdate(lane->ctx, chunk->data, chunk->size);
    bool more;
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      more = !lane->queue.empty();
      if (!more) lane->running = false;
    }
    // `done` may free the hasher: the lane is not touched after it unless more buffers are
    // queued (their own `done` callbacks keep the hasher alive until they run).
    if (chunk->left.fetch_sub(1, std::memory_order_acq_rel) == 1) chunk->done();
    if (!more) return;
  }
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
  Lane md5_lane;
  Lane multihash_lane;
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
  impl->md5_lane.ctx = impl->md5.get();
  impl->multihash_lane.ctx = impl->multihash.get();
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

void ImageHasher::UpdateAsync(const char* data, size_t size, std::function<void()> done) {
  Impl* impl = impl_.get();
  impl->size += size;
  if (impl->pool == nullptr) {
    EVP_DigestUpdate(impl->md5.get(), data, size);
    EVP_DigestUpdate(impl->multihash.get(), data, size);
    done();
    return;
  }
  auto chunk = std::make_shared<Chunk>();
  chunk->data = data;
  chunk->size = size;
  chunk->done = std::move(done);
  for (Lane* lane : {&impl->md5_lane, &impl->multihash_lane}) {
    bool start = false;
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      lane->queue.push_back(chunk);
      if (!lane->running) start = lane->running = true;
    }
    if (start) impl->pool->Post([lane] { RunLane(lane); });
  }
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
