// PUT and GET /v2/images/{id}/file and PUT /v2/images/{id}/stage (contract §5.1-§5.3).
//
// Upload: the bytes stream from the socket into a temporary object in the store while MD5 and
// the os_hash are computed and the format is inspected in the same pass; nothing is ever
// buffered whole. The image is held in `saving` by a lease from metadata-svc that is renewed
// while bytes flow. Only after the object is durable (fsync + rename) does CompleteUpload make
// the image active; any failure removes the bytes and returns the image to `queued`. If this
// process dies, the lease expires and metadata-svc's sweeper does both. The project's
// image_size_total quota is checked three times: on the announced size (BeginUpload), while
// reading (the bytes BeginUpload says remain) and under a lock when completing; each failure
// is a 413.
// Stage: the same path into a staging object of the same store (so every gateway and task
// worker reaches it), the image `uploading` under the lease, image_stage_total the quota. It
// neither hashes nor inspects: the import task does both on the data it finally stores.
// Download: zero-copy from the store, with Content-Length, Content-MD5 and single ranges.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "api-gateway/http_message.h"

namespace gaze {
class WorkerPool;
}

namespace gaze::store {
class Store;
}

namespace gaze::gateway {

class MetadataClient;
struct ApiCall;

struct DataOptions {
  // Largest image accepted, in bytes (Glance's image_size_cap, default 1 TiB).
  uint64_t image_size_cap = uint64_t{1} << 40;
  absl::Duration upload_lease = absl::Seconds(60);
  std::string os_hash_algo = "sha512";
  // Names this gateway process as the holder of upload leases (logs only).
  std::string holder;
  // The size of each of the upload's ring of buffers (the digests work through the filled
  // ones while the next is read). Small buffers stay in the CPU caches the two digest threads
  // share: measured on 2 cores, 128 KiB gave ~500 MB/s, 1 MiB ~420 MB/s.
  size_t chunk_size = 128 << 10;
};

// A byte range [first, first + length) of an object of `size` bytes.
struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
};

enum class RangeError { kMalformed, kMultiple, kUnsatisfiable };

// Parses a Range header ("bytes=a-b", "bytes=a-", "bytes=-n") or, when `legacy` is true,
// a request Content-Range header ("bytes a-b/*"), for an object of `size` bytes.
std::optional<ByteRange> ParseRange(std::string_view header, bool legacy, uint64_t size,
                                    RangeError* error);

class ImageData {
 public:
  // `hash_pool` runs the MD5 half of upload hashing beside the I/O thread.
  ImageData(DataOptions options, MetadataClient& metadata, store::Store& store,
            WorkerPool& hash_pool);

  boost::asio::awaitable<Response> Upload(ApiCall& call, const std::string& image_id);
  boost::asio::awaitable<Response> Stage(ApiCall& call, const std::string& image_id);
  boost::asio::awaitable<Response> Download(ApiCall& call, const std::string& image_id);

 private:
  // Where a request body goes: the image's data (PUT /file) or its staging object (PUT /stage).
  enum class Destination { kImage, kStaging };
  boost::asio::awaitable<Response> Receive(ApiCall& call, const std::string& image_id,
                                           Destination destination);

  DataOptions options_;
  MetadataClient& metadata_;
  store::Store& store_;
  WorkerPool& hash_pool_;
};

}  // namespace gaze::gateway
