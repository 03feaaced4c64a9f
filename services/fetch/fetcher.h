// Downloads a web-download source (contract §6.2, §16.4) into a caller's sink, refusing to
// become an SSRF proxy.
//
// For the URI and then for every redirect target, from scratch: the URI passes the UriPolicy,
// its host is resolved once, every address it resolves to passes the policy, and the connection
// goes to one of those checked addresses and nowhere else (libcurl never resolves names itself,
// so a DNS answer that changes between check and connect — DNS rebinding — changes nothing).
// Redirects are followed here, not by libcurl, and only http and https are spoken. Proxies from
// the environment (http_proxy, ...) are ignored: a proxy would resolve and connect for us.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/fetch/uri_policy.h"
#include "services/fetch/url.h"

namespace gaze::fetch {

// Looks up host names. Implementations must be thread-safe.
class Resolver {
 public:
  virtual ~Resolver() = default;
  // Every address of `name` (never an IP literal). NOT_FOUND when the name has none;
  // UNAVAILABLE when DNS could not answer.
  virtual absl::StatusOr<std::vector<IpAddress>> Resolve(const std::string& name) = 0;
};

// getaddrinfo(3): /etc/hosts, DNS, and whatever else nsswitch.conf lists. Not cancellable.
std::shared_ptr<Resolver> SystemResolver();

struct FetchOptions {
  // Glance's image_size_cap default (1 TiB).
  uint64_t max_bytes = uint64_t{1} << 40;
  int max_redirects = 10;
  absl::Duration connect_timeout = absl::Seconds(30);
  // The transfer fails when fewer than low_speed_limit bytes/s arrive for low_speed_time; the
  // defaults fail a source that sends nothing for a minute. libcurl counts whole seconds and
  // averages over a few of them; a limit of 0 turns the check off.
  uint32_t low_speed_limit = 1;
  absl::Duration low_speed_time = absl::Seconds(60);
  // For the whole download, redirects included.
  absl::Duration total_timeout = absl::Hours(24);
  // The least time between two progress reports during the body; zero reports every chunk.
  absl::Duration progress_interval = absl::Seconds(1);
  std::string user_agent = "gaze-web-download";
};

struct FetchProgress {
  uint64_t bytes = 0;
  std::optional<uint64_t> total;  // the Content-Length, when the source sent one
};

struct FetchResult {
  std::string uri;  // the URI the body came from, after redirects (its query may hold secrets)
  std::string remote_address;  // the address the body came from
  uint64_t bytes = 0;
  std::optional<uint64_t> content_length;
  int redirects = 0;
};

class Fetcher {
 public:
  // Receives the body in order, in chunks of any size; an error stops the download, and Fetch
  // returns that error unchanged. The sink and the progress callback run inside libcurl's C
  // frames, so they must not throw.
  using Sink = std::function<absl::Status(const char* data, size_t size)>;
  // Called with bytes 0 once the response is accepted, then during the body (also while the
  // source stalls) at most once per progress_interval, and once more with the final count when
  // the download succeeds.
  using ProgressCallback = std::function<void(const FetchProgress&)>;

  explicit Fetcher(UriPolicy policy, FetchOptions options = {},
                   std::shared_ptr<Resolver> resolver = SystemResolver());

  // Downloads `uri`. Only the body of the final 200 response reaches the sink. Thread-safe:
  // each call has its own connections. Errors, with messages safe to show the client (they name
  // hosts, never resolved addresses, and never the path or query, which may hold credentials):
  //   INVALID_ARGUMENT "URI not allowed: ..."  the URI or a redirect target fails the policy,
  //                                            or its host does not resolve;
  //   RESOURCE_EXHAUSTED  the body is, or its Content-Length says it is, over max_bytes;
  //   DEADLINE_EXCEEDED   connect, low-speed or total timeout;
  //   UNAVAILABLE         DNS failure, connection refused or reset, the body ended before its
  //                       Content-Length (as Glance's web-download checks), HTTP 5xx, 429, 408;
  //   FAILED_PRECONDITION other HTTP statuses, too many redirects, a redirect with no Location
  //                       or several, a TLS verification failure, oversized headers;
  //   CANCELLED           `stop` was requested (e.g. the task lease was lost); a stop request
  //                       wakes a waiting transfer at once, though not a DNS lookup;
  //   the sink's own error; INTERNAL when libcurl fails in itself.
  absl::StatusOr<FetchResult> Fetch(std::string_view uri, const Sink& sink,
                                    const ProgressCallback& progress = nullptr,
                                    const std::stop_token& stop = {}) const;

  // What Fetch checks before it connects (policy, DNS, addresses), with the same errors, so
  // that the import request can be refused with a 400 up front, as Glance does. Fetch checks
  // again: DNS may answer differently by then.
  absl::Status Check(std::string_view uri) const;

 private:
  absl::StatusOr<std::vector<IpAddress>> CheckedAddresses(const Url& url) const;

  UriPolicy policy_;
  FetchOptions options_;
  std::shared_ptr<Resolver> resolver_;
};

}  // namespace gaze::fetch
