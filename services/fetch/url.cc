#include "services/fetch/url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gaze::fetch {
namespace {

// Longer URLs are not images anyone links to, and bounding the length bounds every message
// that echoes a part of it.
constexpr size_t kMaxUrlLength = 8192;
constexpr size_t kMaxHostNameLength = 253;
constexpr size_t kMaxLabelLength = 63;

absl::Status Invalid(std::string_view message) {
  return absl::InvalidArgumentError(absl::string_view(message.data(), message.size()));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool IsSchemeChar(char c) { return IsAlpha(c) || IsDigit(c) || c == '+' || c == '-' || c == '.'; }

// RFC 3986 pchar, less pct-encoded (checked separately): unreserved, sub-delims, ":" and "@".
bool IsPathChar(char c) {
  return IsAlpha(c) || IsDigit(c) || std::strchr("-._~!$&'()*+,;=:@", c) != nullptr;
}

std::optional<std::array<uint8_t, 4>> ParseCanonicalV4(std::string_view s) {
  std::array<uint8_t, 4> out{};
  size_t pos = 0;
  for (size_t part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= s.size() || s[pos] != '.') return std::nullopt;
      ++pos;
    }
    const size_t start = pos;
    unsigned value = 0;
    while (pos < s.size() && IsDigit(s[pos]) && pos - start < 3) {
      value = value * 10 + static_cast<unsigned>(s[pos] - '0');
      ++pos;
    }
    const size_t digits = pos - start;
    // A leading zero is octal to inet_aton(): "0177.0.0.1" is 127.0.0.1 there.
    if (digits == 0 || value > 255 || (digits > 1 && s[start] == '0')) return std::nullopt;
    out[part] = static_cast<uint8_t>(value);
  }
  if (pos != s.size()) return std::nullopt;
  return out;
}

std::optional<std::array<uint8_t, 16>> ParseV6(std::string_view s) {
  // The longest valid text is 45 characters ("ffff:...:255.255.255.255"); inet_pton refuses
  // zone indexes ("fe80::1%eth0"), which name an interface of this host.
  if (s.empty() || s.size() > 45) return std::nullopt;
  std::string text(s);
  std::array<uint8_t, 16> out{};
  if (inet_pton(AF_INET6, text.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

bool IsNumericLabel(std::string_view label) {
  if (std::all_of(label.begin(), label.end(), IsDigit)) return true;
  return label.size() >= 2 && label[0] == '0' && label[1] == 'x' &&
         std::all_of(label.begin() + 2, label.end(), IsHexDigit);
}

// An LDH host name (RFC 1123) whose last label is not a number. A numeric last label is what
// makes inet_aton() and WHATWG URL parsers read the whole name as an IPv4 address in decimal,
// octal, hex or short form ("2130706433", "0x7f.1", "127.1"); Glance rejects those too.
bool IsHostName(std::string_view name) {
  if (name.empty() || name.size() > kMaxHostNameLength) return false;
  std::string_view last;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxLabelLength) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!(IsAlpha(c) || IsDigit(c) || c == '-')) return false;
    }
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !IsNumericLabel(last);
}

std::string BadHost(std::string_view host) {
  return absl::StrCat("host ", absl::string_view(host.data(), host.size()),
                      " is not a canonical IP address or host name");
}

// Checks a path, query or fragment: allowed characters and well-formed percent-encoding.
// `extra` lists the delimiters allowed in this part besides pchar ("/" and "?").
absl::Status CheckComponent(std::string_view part, const char* extra) {
  for (size_t i = 0; i < part.size(); ++i) {
    const char c = part[i];
    if (c == '%') {
      if (i + 2 >= part.size() || !IsHexDigit(part[i + 1]) || !IsHexDigit(part[i + 2])) {
        return Invalid("the URI has a malformed percent-encoding");
      }
      i += 2;
    } else if (!IsPathChar(c) && std::strchr(extra, c) == nullptr) {
      return Invalid(absl::StrCat("the URI contains the character '", std::string(1, c),
                                  "', which must be percent-encoded"));
    }
  }
  return absl::OkStatus();
}

uint16_t DefaultPort(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

// Splits off the scheme ("http" from "http://..."); nullopt when `text` has none, i.e. is a
// relative reference.
std::optional<std::string_view> SchemeOf(std::string_view text) {
  if (text.empty() || !IsAlpha(text[0])) return std::nullopt;
  for (size_t i = 1; i < text.size(); ++i) {
    if (text[i] == ':') return text.substr(0, i);
    if (!IsSchemeChar(text[i])) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

IpAddress IpAddress::V4(const std::array<uint8_t, 4>& bytes) {
  IpAddress a;
  a.v4_ = true;
  std::copy(bytes.begin(), bytes.end(), a.bytes_.begin());
  return a;
}

IpAddress IpAddress::V6(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.v4_ = false;
  a.bytes_ = bytes;
  return a;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (auto v4 = ParseCanonicalV4(text)) return V4(*v4);
  if (auto v6 = ParseV6(text)) return V6(*v6);
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v4_ ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof(buf));
  return buf;
}

std::string Url::Spec() const {
  std::string spec = absl::StrCat(scheme, "://");
  if (address && !address->is_v4()) {
    absl::StrAppend(&spec, "[", host, "]");
  } else {
    absl::StrAppend(&spec, host);
  }
  if (port != DefaultPort(scheme)) absl::StrAppend(&spec, ":", port);
  absl::StrAppend(&spec, target);
  return spec;
}

absl::StatusOr<std::string> NormalizeHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string_view inner = host.substr(1, host.size() - 2);
    if (auto v6 = ParseV6(inner)) return IpAddress::V6(*v6).ToString();
    return Invalid(absl::StrCat("host ", std::string(host), " is not a valid IPv6 address"));
  }
  if (host.find(':') != std::string_view::npos) {
    if (auto v6 = ParseV6(host)) return IpAddress::V6(*v6).ToString();
    return Invalid(BadHost(host));
  }
  if (auto v4 = ParseCanonicalV4(host)) return IpAddress::V4(*v4).ToString();
  std::string name = absl::AsciiStrToLower(absl::string_view(host.data(), host.size()));
  // "example.org." and "example.org" are the same DNS name; keep one spelling so allow and
  // deny lists compare equal. A dotted IP literal ("127.0.0.1.") fails IsHostName below.
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (!IsHostName(name)) return Invalid(BadHost(host));
  return name;
}

absl::StatusOr<Url> ParseUrl(std::string_view text) {
  if (text.empty()) return Invalid("the URI is empty");
  if (text.size() > kMaxUrlLength) return Invalid("the URI is longer than 8192 characters");
  for (char c : text) {
    // Printable ASCII only: spaces, controls and raw UTF-8 are where parsers disagree.
    if (c <= 0x20 || c >= 0x7f) {
      return Invalid("the URI contains a space, a control character or a non-ASCII character");
    }
  }
  std::optional<std::string_view> raw_scheme = SchemeOf(text);
  if (!raw_scheme) return Invalid("the URI is not absolute (no scheme)");
  Url url;
  url.scheme = absl::AsciiStrToLower(absl::string_view(raw_scheme->data(), raw_scheme->size()));
  if (url.scheme != "http" && url.scheme != "https") {
    return Invalid(absl::StrCat("scheme ", url.scheme, " is not supported"));
  }
  std::string_view rest = text.substr(raw_scheme->size() + 1);
  if (rest.substr(0, 2) != "//") return Invalid("the URI has no host (\"//\" missing)");
  rest.remove_prefix(2);

  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  // "http://trusted@evil/" and "http://evil\@trusted/" fool humans and some parsers; web-download
  // never needs credentials in the URI.
  if (authority.find('@') != std::string_view::npos) {
    return Invalid("user information in the URI is not allowed");
  }
  if (authority.empty()) return Invalid("the URI has no host");

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid("the URI has an unterminated IPv6 host");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid("the URI has garbage after its IPv6 host");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return Invalid("the URI has no host");
  absl::StatusOr<std::string> normalized = NormalizeHost(host);
  if (!normalized.ok()) return normalized.status();
  url.host = *std::move(normalized);
  url.address = IpAddress::Parse(url.host);

  url.port = DefaultPort(url.scheme);
  if (has_port) {
    if (port_text.empty() || port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(), IsDigit)) {
      return Invalid("the URI has an invalid port");
    }
    const int port = std::stoi(std::string(port_text));
    if (port < 1 || port > 65535) {
      return Invalid(absl::StrCat("port ", port, " is out of range (1-65535)"));
    }
    url.port = static_cast<uint16_t>(port);
  }

  // Path, query and fragment. The fragment is validated like the rest, then dropped: it is
  // never sent.
  const size_t hash = rest.find('#');
  std::string_view fragment =
      hash == std::string_view::npos ? std::string_view() : rest.substr(hash + 1);
  rest = rest.substr(0, hash);
  const size_t question = rest.find('?');
  std::string_view path = rest.substr(0, question);
  if (absl::Status s = CheckComponent(path, "/"); !s.ok()) return s;
  if (question != std::string_view::npos) {
    if (absl::Status s = CheckComponent(rest.substr(question + 1), "/?"); !s.ok()) return s;
  }
  if (absl::Status s = CheckComponent(fragment, "/?"); !s.ok()) return s;
  url.target = path.empty() ? absl::StrCat("/", std::string(rest)) : std::string(rest);
  return url;
}

absl::StatusOr<Url> ResolveReference(const Url& base, std::string_view ref) {
  if (SchemeOf(ref)) return ParseUrl(ref);
  if (ref.substr(0, 2) == "//") return ParseUrl(absl::StrCat(base.scheme, ":", std::string(ref)));
  ref = ref.substr(0, ref.find('#'));
  Url origin = base;
  origin.target.clear();
  const std::string prefix = origin.Spec();
  const std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
  if (ref.empty()) return ParseUrl(base.Spec());
  if (ref.front() == '/') return ParseUrl(prefix + std::string(ref));
  if (ref.front() == '?')
    return ParseUrl(absl::StrCat(prefix, std::string(base_path), std::string(ref)));
  // A relative path replaces the last segment of the base path (RFC 3986 §5.2.3).
  const std::string_view directory = base_path.substr(0, base_path.rfind('/') + 1);
  return ParseUrl(absl::StrCat(prefix, std::string(directory), std::string(ref)));
}

}  // namespace gaze::fetch
