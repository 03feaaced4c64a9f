// The Store interface: where image bytes live. A library, not a process: api-gateway writes
// and reads through it, task-worker deletes through it.
//
// Objects are named by URL (e.g. "file:///var/lib/gaze/images/<image>.<upload>"). Writes go
// to a temporary object that only becomes visible under its URL on Commit(), so a reader
// never sees a partial object and a crash leaves at most a temporary to clean up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gaze::store {

// A write in progress. Destroying it without Commit() removes what was written.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual absl::Status Write(const char* data, size_t size) = 0;
  // Makes the bytes durable and visible under the object's URL.
  virtual absl::Status Commit() = 0;
  // Removes the temporary object. Idempotent.
  virtual void Abort() = 0;
};

// An object opened for reading through a file descriptor, so the caller can use zero-copy
// transfers (sendfile). The descriptor is closed on destruction.
class ReadableObject {
 public:
  ReadableObject(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ReadableObject(ReadableObject&& other) noexcept : fd_(other.fd_), size_(other.size_) {
    other.fd_ = -1;
  }
  ReadableObject& operator=(ReadableObject&& other) noexcept;
  ReadableObject(const ReadableObject&) = delete;
  ~ReadableObject();
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  int fd_;
  uint64_t size_;
};

class Store {
 public:
  virtual ~Store() = default;
  // The URL a new upload of `image_id` named `upload_id` will be written to.
  virtual std::string UrlFor(std::string_view image_id, std::string_view upload_id) const = 0;
  // Starts writing the object `url`. Fails if a write of the same URL is in progress.
  virtual absl::StatusOr<std::unique_ptr<ObjectWriter>> Create(std::string_view url) = 0;
  virtual absl::StatusOr<ReadableObject> Open(std::string_view url) = 0;
  // Removes the object and any temporary left by an unfinished write of it. Removing
  // something that is not there succeeds. INVALID_ARGUMENT for a URL outside this store.
  virtual absl::Status Delete(std::string_view url) = 0;
};

}  // namespace gaze::store
