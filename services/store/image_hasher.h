// Hashes image data as it streams by: the MD5 `checksum` Glance clients still verify, and the
// multihash `os_hash_value` with the configured `os_hash_algo` (sha512 by default).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace gaze {
class WorkerPool;
}

namespace gaze::store {

struct ImageDigests {
  uint64_t size = 0;
  std::string checksum;       // MD5, lower-case hex
  std::string os_hash_algo;   // e.g. "sha512"
  std::string os_hash_value;  // lower-case hex
};

class ImageHasher {
 public:
  // `os_hash_algo` is an OpenSSL digest name such as "sha512" or "sha256". With `pool`, each
  // Update computes MD5 on a pool thread while the caller computes the os_hash, which almost
  // halves the time per byte (each digest runs at roughly the same speed on one core).
  static absl::StatusOr<ImageHasher> Create(std::string_view os_hash_algo,
                                            WorkerPool* pool = nullptr);

  ImageHasher(ImageHasher&&) noexcept;
  ImageHasher& operator=(ImageHasher&&) noexcept;
  ~ImageHasher();

  // Returns when both digests have consumed `data`.
  void Update(const char* data, size_t size);
  // Returns at once; `done` runs once both digests have consumed `data`. With a pool, each
  // digest consumes the buffers given to UpdateAsync in order on a pool thread of its own (so
  // the two run beside each other and beside the caller, who can meanwhile read the next
  // buffer), and `done` runs on a pool thread; without one, both digests run here before
  // `done`. The caller may queue more buffers before earlier ones are done, but must keep
  // each `data` unchanged and the hasher alive until its `done` has run, and must not call
  // Update or Finish before every `done` has run.
  void UpdateAsync(const char* data, size_t size, std::function<void()> done);
  // Completes both digests; the hasher must not be used afterwards.
  ImageDigests Finish();

 private:
  struct Impl;
  explicit ImageHasher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gaze::store
