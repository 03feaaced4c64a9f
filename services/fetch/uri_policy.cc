#include "services/fetch/uri_policy.h"

#include <algorithm>
#include <array>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace gaze::fetch {
namespace {

struct V4Range {
  uint32_t network;
  int prefix_length;
  const char* what;
};

// Every block of IANA's IPv4 special-purpose registry that is not globally reachable unicast,
// plus multicast and the reserved 240/4. First match wins: exact addresses precede their blocks.
constexpr auto kRefusedV4 = std::to_array<V4Range>({
    {0xFFFFFFFF, 32, "a broadcast address"},
    {0xA9FEA9FE, 32, "a link-local address (cloud metadata service)"},
    {0x00000000, 32, "an unspecified address"},
    {0x00000000, 8, "a reserved (\"this network\") address"},
    {0x0A000000, 8, "a private address"},
    {0x64400000, 10, "a shared (carrier-grade NAT) address"},
    {0x7F000000, 8, "a loopback address"},
    {0xA9FE0000, 16, "a link-local address"},
    {0xAC100000, 12, "a private address"},
    {0xC0000000, 24, "a reserved (IETF protocol assignment) address"},
    {0xC0000200, 24, "a documentation address"},
    {0xC0586300, 24, "a reserved (6to4 relay anycast) address"},
    {0xC0A80000, 16, "a private address"},
    {0xC6120000, 15, "a benchmarking address"},
    {0xC6336400, 24, "a documentation address"},
    {0xCB007100, 24, "a documentation address"},
    {0xE0000000, 4, "a multicast address"},
    {0xF0000000, 4, "a reserved address"},
});

std::optional<std::string> RefusedV4(const uint8_t* b) {
  const uint32_t value =
      (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  for (const V4Range& range : kRefusedV4) {
    const uint32_t mask = ~uint32_t{0} << (32 - range.prefix_length);
    if ((value & mask) == range.network) return range.what;
  }
  return std::nullopt;
}

// Whether the first `bits` bits of `b` equal those of `prefix`, which lists at least that many.
bool HasPrefix(const std::array<uint8_t, 16>& b, std::initializer_list<uint8_t> prefix, int bits) {
  int i = 0;
  for (uint8_t p : prefix) {
    const int take = std::min(8, bits - 8 * i);
    if (take <= 0) break;
    const auto mask = static_cast<uint8_t>(0xFF << (8 - take));
    if ((b[i] & mask) != (p & mask)) return false;
    ++i;
  }
  return true;
}

// Why `a` may not be fetched from without an allow entry, as "a <kind> address"; nullopt for
// public unicast.
std::optional<std::string> RefusedRange(const IpAddress& a) {
  const std::array<uint8_t, 16>& b = a.bytes();
  if (a.is_v4()) return RefusedV4(b.data());
  // A socket connecting to ::ffff:a.b.c.d reaches a.b.c.d over IPv4, and a NAT64 gateway
  // forwards 64:ff9b::a.b.c.d to a.b.c.d: judge both by the IPv4 address. NAT64 is how an
  // IPv6-only worker reaches public IPv4 mirrors, so a public one stays allowed.
  if (HasPrefix(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, 96)) {
    if (auto what = RefusedV4(b.data() + 12)) return *what + " (IPv4-mapped)";
    return std::nullopt;
  }
  if (HasPrefix(b, {0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0}, 96)) {
    if (auto what = RefusedV4(b.data() + 12)) return *what + " (NAT64)";
    return std::nullopt;
  }
  if (std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; })) {
    return "an unspecified address";
  }
  if (HasPrefix(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128)) {
    return "a loopback address";
  }
  if (b[0] == 0xFF) return "a multicast address";
  if (HasPrefix(b, {0xFE, 0x80}, 10)) return "a link-local address";
  if (HasPrefix(b, {0xFE, 0xC0}, 10)) return "a private (site-local) address";
  if (HasPrefix(b, {0xFD, 0x00, 0x0E, 0xC2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128)) {
    return "a private address (cloud metadata service)";
  }
  if (HasPrefix(b, {0xFC}, 7)) return "a private (unique local) address";
  if (!HasPrefix(b, {0x20}, 3)) return "a reserved address";
  if (HasPrefix(b, {0x20, 0x01, 0x0D, 0xB8}, 32)) return "a documentation address";
  if (HasPrefix(b, {0x3F, 0xFF, 0x00}, 20)) return "a documentation address";
  if (HasPrefix(b, {0x20, 0x01, 0x00}, 23)) return "a reserved (IETF protocol assignment) address";
  if (HasPrefix(b, {0x20, 0x02}, 16)) return "a 6to4 address";
  return std::nullopt;
}

template <typename T>
bool Contains(const std::vector<T>& list, const T& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

absl::Status NotAllowed(absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("URI not allowed: ", reason));
}

// "web_download_allowed_ports (GAZE_WEB_DOWNLOAD_ALLOWED_PORTS)": the flag and the environment
// variable, since the operator may have used either.
std::string OptionName(std::string_view list) {
  const std::string flag =
      absl::StrCat("web_download_", absl::string_view(list.data(), list.size()));
  return absl::StrCat(flag, " (GAZE_", absl::AsciiStrToUpper(flag), ")");
}

absl::Status ConfigError(std::string_view list, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(OptionName(list), ": ", message));
}

absl::StatusOr<std::vector<std::string>> SplitList(std::string_view list,
                                                   const std::string& value) {
  std::vector<std::string> entries;
  if (absl::StripAsciiWhitespace(value).empty()) return entries;
  for (absl::string_view entry : absl::StrSplit(value, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) return ConfigError(list, absl::StrCat("empty entry in \"", value, "\""));
    entries.emplace_back(entry);
  }
  return entries;
}

absl::StatusOr<std::vector<std::string>> ParseSchemes(std::string_view list,
                                                      const std::string& value, bool allowed) {
  absl::StatusOr<std::vector<std::string>> entries = SplitList(list, value);
  if (!entries.ok()) return entries.status();
  for (std::string& scheme : *entries) {
    scheme = absl::AsciiStrToLower(scheme);
    const bool valid =
        absl::ascii_isalpha(scheme[0]) && std::all_of(scheme.begin(), scheme.end(), [](char c) {
          return absl::ascii_isalnum(c) || c == '+' || c == '-' || c == '.';
        });
    if (!valid) return ConfigError(list, absl::StrCat("\"", scheme, "\" is not a URI scheme"));
    if (allowed && scheme != "http" && scheme != "https") {
      return ConfigError(
          list, absl::StrCat("scheme \"", scheme, "\" cannot be fetched; only http and https can"));
    }
  }
  return entries;
}

absl::StatusOr<std::vector<std::string>> ParseHosts(std::string_view list,
                                                    const std::string& value) {
  absl::StatusOr<std::vector<std::string>> entries = SplitList(list, value);
  if (!entries.ok()) return entries.status();
  for (std::string& host : *entries) {
    absl::StatusOr<std::string> normalized = NormalizeHost(host);
    if (!normalized.ok()) return ConfigError(list, normalized.status().message());
    host = *std::move(normalized);
  }
  return entries;
}

absl::StatusOr<std::vector<uint16_t>> ParsePorts(std::string_view list, const std::string& value) {
  absl::StatusOr<std::vector<std::string>> entries = SplitList(list, value);
  if (!entries.ok()) return entries.status();
  std::vector<uint16_t> ports;
  for (const std::string& entry : *entries) {
    uint32_t port = 0;
    const bool digits = std::all_of(entry.begin(), entry.end(), absl::ascii_isdigit);
    if (!digits || !absl::SimpleAtoi(entry, &port) || port < 1 || port > 65535) {
      return ConfigError(list, absl::StrCat("\"", entry, "\" is not a port number (1-65535)"));
    }
    ports.push_back(static_cast<uint16_t>(port));
  }
  return ports;
}

}  // namespace

absl::StatusOr<UriPolicy> UriPolicy::Create(const UriFilterConfig& config) {
  UriPolicy policy;
  auto allowed_schemes = ParseSchemes("allowed_schemes", config.allowed_schemes, true);
  if (!allowed_schemes.ok()) return allowed_schemes.status();
  auto disallowed_schemes = ParseSchemes("disallowed_schemes", config.disallowed_schemes, false);
  if (!disallowed_schemes.ok()) return disallowed_schemes.status();
  auto allowed_hosts = ParseHosts("allowed_hosts", config.allowed_hosts);
  if (!allowed_hosts.ok()) return allowed_hosts.status();
  auto disallowed_hosts = ParseHosts("disallowed_hosts", config.disallowed_hosts);
  if (!disallowed_hosts.ok()) return disallowed_hosts.status();
  auto allowed_ports = ParsePorts("allowed_ports", config.allowed_ports);
  if (!allowed_ports.ok()) return allowed_ports.status();
  auto disallowed_ports = ParsePorts("disallowed_ports", config.disallowed_ports);
  if (!disallowed_ports.ok()) return disallowed_ports.status();

  policy.allowed_schemes_ = *std::move(allowed_schemes);
  policy.allowed_hosts_ = *std::move(allowed_hosts);
  policy.allowed_ports_ = *std::move(allowed_ports);
  // Glance: "Both allowed and disallowed ... configured. Will only process allowed list."
  if (policy.allowed_schemes_.empty()) policy.disallowed_schemes_ = *std::move(disallowed_schemes);
  if (policy.allowed_hosts_.empty()) policy.disallowed_hosts_ = *std::move(disallowed_hosts);
  if (policy.allowed_ports_.empty()) policy.disallowed_ports_ = *std::move(disallowed_ports);
  return policy;
}

bool UriPolicy::ExplicitlyAllowed(const std::string& host) const {
  return Contains(allowed_hosts_, host);
}

absl::StatusOr<Url> UriPolicy::CheckUri(std::string_view uri) const {
  absl::StatusOr<Url> url = ParseUrl(uri);
  if (!url.ok()) return NotAllowed(url.status().message());

  if (!allowed_schemes_.empty() && !Contains(allowed_schemes_, url->scheme)) {
    return NotAllowed(absl::StrCat("scheme ", url->scheme, " is not in the allowed schemes"));
  }
  if (Contains(disallowed_schemes_, url->scheme)) {
    return NotAllowed(absl::StrCat("scheme ", url->scheme, " is disallowed"));
  }

  // The address range goes first: when an address is refused for both reasons, "is a loopback
  // address" tells the client more than "is not in the allowed hosts".
  if (url->address && !ExplicitlyAllowed(url->host)) {
    if (std::optional<std::string> what = RefusedRange(*url->address)) {
      return NotAllowed(absl::StrCat("host ", url->host, " is ", *what));
    }
  }
  if (!allowed_hosts_.empty() && !ExplicitlyAllowed(url->host)) {
    return NotAllowed(absl::StrCat("host ", url->host, " is not in the allowed hosts"));
  }
  if (Contains(disallowed_hosts_, url->host)) {
    return NotAllowed(absl::StrCat("host ", url->host, " is disallowed"));
  }

  if (!allowed_ports_.empty() && !Contains(allowed_ports_, url->port)) {
    return NotAllowed(absl::StrCat("port ", url->port, " is not in the allowed ports"));
  }
  if (Contains(disallowed_ports_, url->port)) {
    return NotAllowed(absl::StrCat("port ", url->port, " is disallowed"));
  }
  return url;
}

absl::Status UriPolicy::CheckResolvedAddress(const Url& url, const IpAddress& address) const {
  if (ExplicitlyAllowed(url.host)) return absl::OkStatus();
  if (Contains(disallowed_hosts_, address.ToString())) {
    return NotAllowed(absl::StrCat("host ", url.host, " resolves to a disallowed address"));
  }
  if (std::optional<std::string> what = RefusedRange(address)) {
    return NotAllowed(absl::StrCat("host ", url.host, " resolves to ", *what));
  }
  return absl::OkStatus();
}

}  // namespace gaze::fetch
