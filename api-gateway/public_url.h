// The URL a client reached the API at, for links, Location headers and the version document:
// the configured public URL, or — for a request relayed by a trusted proxy — the scheme and
// host the proxy reports in X-Forwarded-Proto / X-Forwarded-Host (what oslo.middleware's
// http_proxy_to_wsgi does for Glance). Those headers from anyone else are ignored: a client
// must not be able to make Gaze hand out links to a host of its choosing.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api-gateway/http_message.h"

namespace gaze::gateway {

class PublicUrl {
 public:
  // `configured`: absolute URL without trailing slash. `trusted_proxies`: IP addresses or
  // CIDR networks (IPv4 or IPv6).
  static absl::StatusOr<PublicUrl> Create(std::string configured,
                                          const std::vector<std::string>& trusted_proxies);

  std::string For(const Request& request) const;
  const std::string& configured() const { return configured_; }

 private:
  struct Network {
    std::array<unsigned char, 16> address{};  // IPv4 as IPv4-mapped IPv6
    int prefix = 128;
  };
  bool Trusted(std::string_view peer) const;

  std::string configured_;
  std::vector<Network> trusted_;
};

}  // namespace gaze::gateway
