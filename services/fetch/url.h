// Strict parsing of the http(s) URLs that web-download fetches, and the IP address type the
// URI policy reasons about.
//
// Lenient URL parsers are how SSRF filters get bypassed: a host written "2130706433",
// "0x7f.1" or "127.1" means 127.0.0.1 to inet_aton() and to many HTTP clients, but not to a
// filter comparing strings. So this parser accepts one spelling of each address (Glance's
// normalize_hostname rule: canonical IPv4/IPv6 literals only) and refuses everything it does
// not fully understand, rather than guessing what a client library would make of it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace gaze::fetch {

class IpAddress {
 public:
  static IpAddress V4(const std::array<uint8_t, 4>& bytes);
  static IpAddress V6(const std::array<uint8_t, 16>& bytes);
  // IPv4 only as four decimal octets without leading zeros; IPv6 in any RFC 4291 form, without
  // a zone index. nullopt for anything else.
  static std::optional<IpAddress> Parse(std::string_view text);

  bool is_v4() const { return v4_; }
  // Network order; an IPv4 address uses the first four bytes.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // Dotted quad, or RFC 5952 text (lower case, "::" compression, "::ffff:a.b.c.d" when mapped).
  std::string ToString() const;

  bool operator==(const IpAddress&) const = default;

 private:
  bool v4_ = true;
  std::array<uint8_t, 16> bytes_{};
};

// An absolute http or https URL in normalised form.
struct Url {
  std::string scheme;  // "http" or "https"
  // A lower-case host name without a trailing dot, or the canonical text of an IP literal
  // (IPv6 without brackets).
  std::string host;
  std::optional<IpAddress> address;  // set when `host` is an IP literal
  uint16_t port = 0;                 // explicit, or the scheme's default
  std::string target;                // path and query, starting with "/"; no fragment

  // The URL to request: the scheme's default port is left out, IPv6 hosts are bracketed.
  std::string Spec() const;
};

// Parses an absolute http/https URL. INVALID_ARGUMENT, with a reason that is safe to show the
// client, for: another scheme; no "//" authority; user information ("user@host"); a host that
// is not a canonical IP literal or an LDH host name (numeric-looking names such as
// "2130706433", "0x7f.1", "127.1" or "foo.123" included); an IPv6 zone index; a port outside
// 1-65535; characters outside RFC 3986 (spaces, controls, non-ASCII, "\", unencoded "<>{}|^`[]"
// in the path); bad percent-encoding; more than 8 KiB.
absl::StatusOr<Url> ParseUrl(std::string_view text);

// Resolves the reference `ref` (the value of a Location header: absolute, "//host/...", "/path",
// "?query" or a relative path) against `base` (RFC 3986 §5.2, without dot-segment removal, which
// the server does) and parses the result as ParseUrl does.
absl::StatusOr<Url> ResolveReference(const Url& base, std::string_view ref);

// Normalises a host as written in a URL authority (IPv6 in brackets) or in a configuration list
// (IPv6 with or without brackets): canonical IP text, or a lower-case host name without its
// trailing dot. INVALID_ARGUMENT for anything ParseUrl would refuse as a host.
absl::StatusOr<std::string> NormalizeHost(std::string_view host);

}  // namespace gaze::fetch
