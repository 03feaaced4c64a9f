// Which URIs web-download may fetch (contract §16.4): Glance's [import_filtering_opts] — scheme,
// host and port, each with an allow list that, when set, overrides its deny list — plus Gaze's
// stricter default that refuses every address that is not public unicast.
//
// Glance lets web-download reach 127.0.0.1, 169.254.169.254 (cloud metadata) or the private
// network unless the operator thought of listing them; Gaze refuses them unless the operator
// names them in allowed_hosts, which is the only way to reach such a source (e.g. a local HTTP
// server in a test set-up). The refused addresses, also inside IPv4-mapped and NAT64 IPv6 forms:
//   IPv4: 0/8 (unspecified), 10/8, 172.16/12, 192.168/16 (private), 100.64/10 (shared, CGNAT),
//         127/8 (loopback), 169.254/16 (link-local, cloud metadata), 192.0.0/24, 192.88.99/24,
//         240/4 (reserved), 192.0.2/24, 198.51.100/24, 203.0.113/24 (documentation),
//         198.18/15 (benchmarking), 224/4 (multicast), 255.255.255.255 (broadcast);
//   IPv6: everything outside 2000::/3 (::, ::1, fe80::/10, fc00::/7, fec0::/10, ff00::/8,
//         IPv4-compatible ::/96, ...) except IPv4-mapped ::ffff:0:0/96 and NAT64 64:ff9b::/96,
//         which are judged by the IPv4 address they carry; and inside 2000::/3, 2001::/23 (IETF
//         protocol assignments, Teredo), 2001:db8::/32 and 3fff::/20 (documentation), 2002::/16
//         (6to4, carries an arbitrary IPv4 address).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/fetch/url.h"

namespace gaze::fetch {

// The filter lists as comma-separated strings, the way the flags web_download_<name> and the
// environment GAZE_WEB_DOWNLOAD_<NAME> carry them. The defaults are Glance's. An empty string is
// an empty list; an empty entry ("80,,443", "80,") is an error; blanks around entries are ignored.
struct UriFilterConfig {
  std::string allowed_schemes = "http,https";
  std::string disallowed_schemes{};
  // Canonical IP literals (IPv6 with or without brackets) or host names.
  std::string allowed_hosts{};
  std::string disallowed_hosts{};
  std::string allowed_ports = "80,443";
  std::string disallowed_ports{};
};

class UriPolicy {
 public:
  // INVALID_ARGUMENT naming the option (flag and environment variable) for a bad entry: a port
  // outside 1-65535, a host ParseUrl would refuse ("127.1"), an allowed scheme other than http
  // and https (nothing else can be fetched), an empty entry.
  static absl::StatusOr<UriPolicy> Create(const UriFilterConfig& config);

  // Parses `uri` strictly (see ParseUrl) and checks its scheme, host and port: allowed when
  // the allow list is set and holds it, or the allow list is empty and the deny list does not.
  // The port checked is the effective one (Glance skips the check when the URI has no port). A
  // host that is an IP literal must also be public unicast unless allowed_hosts names it. Pure:
  // no DNS. INVALID_ARGUMENT "URI not allowed: <reason>", safe to show the client.
  absl::StatusOr<Url> CheckUri(std::string_view uri) const;

  // Checks one address that `url` (which passed CheckUri) resolved to. A host that allowed_hosts
  // names is trusted with whatever it resolves to — that is how an operator lets web-download
  // reach an internal mirror by name; list its address instead to trust only that. Otherwise
  // the address must be public unicast and not in disallowed_hosts. The message names the host,
  // not the address, so the client cannot map names in internal DNS through it.
  absl::Status CheckResolvedAddress(const Url& url, const IpAddress& address) const;

 private:
  UriPolicy() = default;

  bool ExplicitlyAllowed(const std::string& host) const;

  // A deny list is kept empty when its allow list is set, since the allow list overrides it.
  std::vector<std::string> allowed_schemes_;
  std::vector<std::string> disallowed_schemes_;
  std::vector<std::string> allowed_hosts_;  // normalised (NormalizeHost)
  std::vector<std::string> disallowed_hosts_;
  std::vector<uint16_t> allowed_ports_;
  std::vector<uint16_t> disallowed_ports_;
};

}  // namespace gaze::fetch
