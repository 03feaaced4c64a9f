// The task-worker's port to the web: where web-download imports get their bytes. The adapter is
// services/fetch (NewHttpWebSource, SSRF-safe: the operator's URI policy, every address and
// redirect checked, size limit, timeouts); tests use a fake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "absl/status/status.h"

namespace gaze::fetch {
class Fetcher;
}

namespace gaze::worker {

class WebSource {
 public:
  using Sink = std::function<absl::Status(const char* data, size_t size)>;
  // Bytes received so far, and the total when the source announced one.
  using Progress = std::function<void(uint64_t bytes, std::optional<uint64_t> total)>;

  virtual ~WebSource() = default;
  // Streams the body of `uri` into `sink`. Errors: the sink's, unchanged; CANCELLED once `stop`
  // is requested; anything else means the source is refused or failed, with a message fit for
  // the image owner (it names the host, never resolved addresses or the URI's path).
  virtual absl::Status Fetch(const std::string& uri, const Sink& sink, const Progress& progress,
                             std::stop_token stop) = 0;
};

// A WebSource over `fetcher`, which must outlive it.
std::unique_ptr<WebSource> NewHttpWebSource(const fetch::Fetcher& fetcher);

}  // namespace gaze::worker
