#include "api-gateway/image_data.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "api-gateway/api_call.h"
#include "api-gateway/metadata_client.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/imageformat/inspector.h"
#include "services/store/image_hasher.h"
#include "services/store/store.h"

namespace gaze::gateway {
namespace {

namespace asio = boost::asio;

bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// The verdict on an inspected upload: the virtual size to record, or why it is refused.
absl::StatusOr<imageformat::Acceptance> InspectUpload(imageformat::Inspector& inspector,
                                                      const v1::Image& image) {
  absl::StatusOr<imageformat::Inspection> inspection = inspector.Finish();
  if (!inspection.ok()) {
    return absl::InvalidArgumentError("Image data is not a valid disk image: " +
                                      std::string(inspection.status().message()));
  }
  return imageformat::CheckDiskFormat(*inspection, image.disk_format());
}

// Raised once, from any thread, and awaited by one coroutine.
class Completion {
 public:
  void Signal() {
    std::function<void()> resume;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      resume = std::move(resume_);
    }
    if (resume) resume();
  }
  // Runs `resume` when signalled, at once if already signalled.
  void OnSignal(std::function<void()> resume) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!done_) {
        resume_ = std::move(resume);
        return;
      }
    }
    resume();
  }
  bool signalled() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

 private:
  std::mutex mu_;
  bool done_ = false;
  std::function<void()> resume_;
};

// Waits for the completion in `slot`, if it holds one, and empties it.
asio::awaitable<void> Settle(std::shared_ptr<Completion>& slot) {
  std::shared_ptr<Completion> completion = std::move(slot);
  if (!completion || completion->signalled()) co_return;
  auto initiation = [completion](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    completion->OnSignal([shared] {
      auto executor = asio::get_associated_executor(*shared);
      asio::post(executor, [shared]() mutable { (*shared)(); });
    });
  };
  auto operation = asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      std::move(initiation), asio::use_awaitable);
  co_await std::move(operation);
}

// The read size of a staging upload, which is not hashed.
constexpr size_t kStagingChunk = 1 << 20;

// What the pool tasks of an upload read: the buffers and the hasher.
struct UploadPipeline {
  static constexpr size_t kBuffers = 12;
  std::vector<char> buffers[kBuffers];
  std::optional<store::ImageHasher> hasher;
};

}  // namespace

std::optional<ByteRange> ParseRange(std::string_view header, bool legacy, uint64_t size,
                                    RangeError* error) {
  *error = RangeError::kMalformed;
  header = TrimSpaces(header);
  std::string_view prefix = legacy ? "bytes " : "bytes=";
  if (header.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view spec = TrimSpaces(header.substr(prefix.size()));
  if (legacy) {
    size_t slash = spec.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    spec = spec.substr(0, slash);
  } else if (spec.find(',') != std::string_view::npos) {
    *error = RangeError::kMultiple;
    return std::nullopt;
  }
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view a = TrimSpaces(spec.substr(0, dash));
  std::string_view b = TrimSpaces(spec.substr(dash + 1));
  uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix range: the last n bytes
    uint64_t n = 0;
    if (legacy || !ParseUint(b, &n)) return std::nullopt;
    if (n == 0 || size == 0) {
      *error = RangeError::kUnsatisfiable;
      return std::nullopt;
    }
    n = std::min(n, size);
    return ByteRange{size - n, n};
  }
  if (!ParseUint(a, &first)) return std::nullopt;
  if (b.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else if (!ParseUint(b, &last) || last < first) {
    return std::nullopt;
  }
  if (first >= size) {
    *error = RangeError::kUnsatisfiable;
    return std::nullopt;
  }
  last = std::min(last, size - 1);
  return ByteRange{first, last - first + 1};
}

ImageData::ImageData(DataOptions options, MetadataClient& metadata, store::Store& store,
                     WorkerPool& hash_pool)
    : options_(std::move(options)), metadata_(metadata), store_(store), hash_pool_(hash_pool) {}

asio::awaitable<Response> ImageData::Upload(ApiCall& call, const std::string& image_id) {
  co_return co_await Receive(call, image_id, Destination::kImage);
}

asio::awaitable<Response> ImageData::Stage(ApiCall& call, const std::string& image_id) {
  co_return co_await Receive(call, image_id, Destination::kStaging);
}

asio::awaitable<Response> ImageData::Receive(ApiCall& call, const std::string& image_id,
                                             Destination destination) {
  const bool staging = destination == Destination::kStaging;
  const Request& req = call.request;
  auto content_type = req.FindHeader("Content-Type");
  if (!content_type || TrimSpaces(*content_type) != "application/octet-stream") {
    co_return call.Error(415,
                         "Unsupported Content-Type: image data must be sent as "
                         "application/octet-stream.");
  }
  std::optional<uint64_t> declared_size;
  if (auto header = req.FindHeader("x-openstack-image-size")) {
    uint64_t n = 0;
    if (!ParseUint(TrimSpaces(*header), &n)) {
      co_return call.Error(400, "x-openstack-image-size must be a non-negative integer.");
    }
    declared_size = n;
  }
  Response error;
  // Glance's stage checks modify_image: staging is the first step of an import, which needs it.
  const std::string_view rule = staging ? "modify_image" : "upload_image";
  auto image = co_await AuthorizedImage(metadata_, call, image_id, rule, &error);
  if (!image) co_return error;
  const uint64_t cap = options_.image_size_cap;
  if (declared_size.value_or(0) > cap || call.body.content_length().value_or(0) > cap) {
    co_return call.Error(413, "Image exceeds the storage quota: the image size cap is " +
                                  std::to_string(cap) + " bytes.");
  }

  const std::string upload_id = NewUuid();
  // Staging objects are named apart, so that the store's directory shows what each object is.
  const std::string url = store_.UrlFor(image_id, staging ? "staging-" + upload_id : upload_id);
  v1::BeginUploadRequest begin;
  *begin.mutable_caller() = call.Caller();
  begin.set_id(image_id);
  begin.set_upload_id(upload_id);
  begin.set_object_url(url);
  begin.set_holder(options_.holder);
  begin.set_lease_seconds(static_cast<int32_t>(absl::ToInt64Seconds(options_.upload_lease)));
  begin.set_target(staging ? v1::UPLOAD_TARGET_STAGING : v1::UPLOAD_TARGET_IMAGE);
  // Lets metadata-svc refuse an upload that cannot fit the project's quota before any byte.
  if (std::optional<uint64_t> size = declared_size ? declared_size : call.body.content_length()) {
    begin.set_declared_size(static_cast<int64_t>(*size));
  }
  auto lease = co_await metadata_.BeginUpload(call.request_id, begin);
  if (!lease.ok()) co_return call.Error(lease.status());
  // What the project may still store (image_size_total, or image_stage_total when staging);
  // unset when unlimited.
  std::optional<uint64_t> remaining;
  if (lease->has_remaining_bytes()) {
    remaining = static_cast<uint64_t>(std::max<int64_t>(lease->remaining_bytes(), 0));
  }

  // From here on, every failure must give the image back (queued) and remove the bytes.
  std::unique_ptr<store::ObjectWriter> writer;
  auto abandon = [&]() -> asio::awaitable<void> {
    if (writer) writer->Abort();
    v1::AbortUploadRequest abort;
    abort.set_id(image_id);
    abort.set_upload_id(upload_id);
    auto aborted = co_await metadata_.AbortUpload(call.request_id, abort);
    if (!aborted.ok()) {
      // The lease will expire and metadata-svc's sweeper will finish the job.
      log::Warning("abort upload failed")
          .RequestId(call.request_id)
          .Field("image_id", image_id)
          .Field("error", std::string(aborted.status().message()));
    }
  };

  auto created = store_.Create(url);
  if (!created.ok()) {
    co_await abandon();
    co_return call.Error(created.status());
  }
  writer = *std::move(created);
  const v1::Image& image_before = lease->image();
  // A few buffers in a ring: while the digests (MD5 and the os_hash, each on a pool thread of
  // its own) work through the filled ones, the next one is read from the socket and written. The
  // buffers and the hasher are shared with the pool tasks, so an early return never frees what a
  // task still reads.
  auto pipeline = std::make_shared<UploadPipeline>();
  std::optional<imageformat::Inspector> inspector;
  if (!staging) {
    auto created_hasher = store::ImageHasher::Create(options_.os_hash_algo, &hash_pool_);
    if (!created_hasher.ok()) {
      co_await abandon();
      co_return call.Error(created_hasher.status());
    }
    pipeline->hasher.emplace(*std::move(created_hasher));
    // Glance inspects what is uploaded as a bare disk image (contract §16.2): the content must
    // be the claimed disk_format and pass its format's safety checks.
    if (image_before.container_format() == "bare") inspector.emplace();
  }

  // Without digests nothing runs beside the reads: one large buffer, fewer system calls.
  const size_t chunk = std::max<size_t>(staging ? kStagingChunk : options_.chunk_size, 1);
  const size_t buffers = pipeline->hasher ? UploadPipeline::kBuffers : 1;
  for (size_t i = 0; i < buffers; ++i) pipeline->buffers[i].resize(chunk);
  // hashing[i]: the digests of buffers[i] are not yet done (it must not be refilled before).
  std::shared_ptr<Completion> hashing[UploadPipeline::kBuffers];
  size_t current = 0;
  uint64_t total = 0;
  absl::Time renew_at = absl::Now() + options_.upload_lease / 3;
  for (bool eof = false; !eof;) {
    asio::awaitable<void> refillable = Settle(hashing[current]);
    co_await std::move(refillable);
    char* buffer = pipeline->buffers[current].data();
    size_t filled = 0;
    while (filled < chunk) {
      auto n = co_await call.body.ReadSome(buffer + filled, chunk - filled);
      if (!n.ok()) {
        log::Warning("upload interrupted")
            .RequestId(call.request_id)
            .Field("image_id", image_id)
            .Field("bytes", total)
            .Field("error", std::string(n.status().message()));
        co_await abandon();
        co_return call.Error(400, "The upload was interrupted.");
      }
      if (*n == 0) {
        eof = true;
        break;
      }
      filled += *n;
      total += *n;
      if (total > cap) {
        co_await abandon();
        co_return call.Error(413, "Image exceeds the storage quota: the image size cap is " +
                                      std::to_string(cap) + " bytes.");
      }
      if (remaining && total > *remaining) {
        co_await abandon();
        co_return call.Error(413, std::string("Image exceeds the ") +
                                      (staging ? "image_stage_total" : "image_size_total") +
                                      " quota of project " + call.identity.project_id + ": " +
                                      std::to_string(*remaining) + " more bytes may be stored.");
      }
    }
    if (filled == 0) break;
    if (inspector) inspector->Feed(buffer, filled);
    if (pipeline->hasher) {
      auto signal = std::make_shared<Completion>();
      hashing[current] = signal;
      pipeline->hasher->UpdateAsync(buffer, filled,
                                    [signal, keep = pipeline] { signal->Signal(); });
    }
    // Written while the pool hashes the same (unchanging) buffer.
    if (absl::Status st = writer->Write(buffer, filled); !st.ok()) {
      co_await abandon();
      co_return call.Error(st);
    }
    current = (current + 1) % buffers;
    if (absl::Now() >= renew_at) {
      v1::RenewUploadRequest renew;
      renew.set_id(image_id);
      renew.set_upload_id(upload_id);
      renew.set_lease_seconds(begin.lease_seconds());
      auto renewed = co_await metadata_.RenewUpload(call.request_id, renew);
      if (!renewed.ok()) {
        co_await abandon();
        co_return renewed.status().code() == absl::StatusCode::kFailedPrecondition
            ? call.Error(410, "Image " + image_id +
                                  " could not be found after upload. The image may "
                                  "have been deleted during the upload.")
            : call.Error(renewed.status());
      }
      renew_at = absl::Now() + options_.upload_lease / 3;
    }
  }
  for (std::shared_ptr<Completion>& pending : hashing) {
    asio::awaitable<void> hashed = Settle(pending);
    co_await std::move(hashed);
  }
  if (declared_size && *declared_size != total) {
    co_await abandon();
    co_return call.Error(400, "Image size " + std::to_string(total) +
                                  " does not match the x-openstack-image-size header " +
                                  std::to_string(*declared_size) + ".");
  }
  std::optional<uint64_t> virtual_size;
  if (inspector) {
    absl::StatusOr<imageformat::Acceptance> accepted = InspectUpload(*inspector, image_before);
    if (!accepted.ok()) {
      co_await abandon();
      co_return call.Error(415, std::string(accepted.status().message()));
    }
    virtual_size = accepted->virtual_size;
  }
  if (absl::Status st = writer->Commit(); !st.ok()) {
    co_await abandon();
    co_return call.Error(st);
  }

  v1::CompleteUploadRequest complete;
  complete.set_id(image_id);
  complete.set_upload_id(upload_id);
  complete.set_size(static_cast<int64_t>(total));
  if (pipeline->hasher) {
    store::ImageDigests digests = pipeline->hasher->Finish();
    complete.set_checksum(digests.checksum);
    complete.set_os_hash_algo(digests.os_hash_algo);
    complete.set_os_hash_value(digests.os_hash_value);
  }
  if (virtual_size) complete.set_virtual_size(static_cast<int64_t>(*virtual_size));
  complete.mutable_location()->set_url(url);
  auto done = co_await metadata_.CompleteUpload(call.request_id, complete);
  if (!done.ok()) {
    absl::StatusCode code = done.status().code();
    if (code == absl::StatusCode::kFailedPrecondition ||
        code == absl::StatusCode::kResourceExhausted) {
      // The image was deleted, the lease was lost, or a concurrent upload of the project took
      // the quota first: the image does not point at the bytes, which are ours to remove.
      writer.reset();
      if (absl::Status st = store_.Delete(url); !st.ok()) {
        log::Error("cannot remove orphaned upload").RequestId(call.request_id).Field("url", url);
      }
      co_await abandon();
      co_return code == absl::StatusCode::kFailedPrecondition
          ? call.Error(410, std::string(done.status().message()))
          : call.Error(done.status());
    }
    // Unknown outcome (metadata-svc unreachable): the image may be active and pointing at
    // these bytes, so they stay; if it is not, the lease expiry reclaims them.
    log::Error("complete upload failed")
        .RequestId(call.request_id)
        .Field("image_id", image_id)
        .Field("error", std::string(done.status().message()));
    co_return call.Error(done.status());
  }
  log::Info(staging ? "image staged" : "image uploaded")
      .RequestId(call.request_id)
      .Field("image_id", image_id)
      .Field("bytes", total);
  co_return NoContent();
}

asio::awaitable<Response> ImageData::Download(ApiCall& call, const std::string& image_id) {
  Response error;
  auto image = co_await AuthorizedImage(metadata_, call, image_id, "download_image", &error);
  if (!image) co_return error;
  if (image->status() == v1::IMAGE_STATUS_DEACTIVATED && !call.identity.is_admin) {
    co_return call.Error(403,
                         "The requested image has been deactivated. Image data download "
                         "is forbidden.");
  }
  if (image->locations_size() == 0) co_return NoContent();
  auto object = store_.Open(image->locations(0).url());
  if (!object.ok()) {
    log::Error("image data missing")
        .RequestId(call.request_id)
        .Field("image_id", image_id)
        .Field("error", std::string(object.status().message()));
    if (object.status().code() == absl::StatusCode::kNotFound) co_return NoContent();
    co_return call.Error(object.status());
  }
  const uint64_t size = object->size();
  ByteRange range{0, size};
  bool partial = false;
  std::optional<std::string_view> range_header = call.request.FindHeader("Range");
  bool legacy = false;
  if (!range_header) {
    range_header = call.request.FindHeader("Content-Range");
    legacy = range_header.has_value();
  }
  if (range_header) {
    RangeError error;
    auto parsed = ParseRange(*range_header, legacy, size, &error);
    if (!parsed) {
      if (error == RangeError::kMultiple) {
        co_return call.Error(400, "Multiple ranges are not supported.");
      }
      Response r = call.Error(416, "The requested range is not satisfiable.");
      r.With("Content-Range", "bytes */" + std::to_string(size));
      co_return r;
    }
    range = *parsed;
    partial = true;
  }
  Response r;
  r.status = partial ? 206 : 200;
  r.With("Content-Type", "application/octet-stream");
  if (partial) {
    r.With("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                std::to_string(range.first + range.length - 1) + "/" +
                                std::to_string(size));
  } else if (image->has_checksum()) {
    r.With("Content-MD5", image->checksum());
  }
  r.file = FileBody{*std::move(object), range.first, range.length};
  co_return r;
}

}  // namespace gaze::gateway
