#include "services/amqp/url.h"

#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace gaze::amqp {
namespace {

constexpr char kScheme[] = "amqp://";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `part` names the URL component in the error; the value itself is not echoed because it
// may be the password.
absl::StatusOr<std::string> PercentDecode(std::string_view in, std::string_view part) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    int hi = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("AMQP URL: bad percent-encoding in the ", std::string(part)));
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string PercentEncodeVhost(const std::string& vhost) {
  std::string out;
  for (char c : vhost) {
    if (c == '/' || c == '%' || c == '?' || c == '#') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += '%';
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(c) & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("AMQP URL: ", std::string(what)));
}

}  // namespace

std::string AmqpUrl::Redacted() const {
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return absl::StrCat(kScheme, user, ":***@", host_part, ":", port, "/",
                      vhost == "/" ? "" : PercentEncodeVhost(vhost));
}

absl::StatusOr<AmqpUrl> ParseAmqpUrl(std::string_view url) {
  const absl::string_view absl_url(url.data(), url.size());
  if (absl::StartsWithIgnoreCase(absl_url, "amqps://")) {
    return Invalid("amqps (TLS) is not supported");
  }
  if (!absl::StartsWithIgnoreCase(absl_url, kScheme)) return Invalid("must start with amqp://");
  std::string_view rest = url.substr(sizeof(kScheme) - 1);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Invalid("query parameters and fragments are not supported");
  }

  AmqpUrl out;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

  // The password may contain '@' only percent-encoded, so the last '@' ends the user info.
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    auto user = PercentDecode(userinfo.substr(0, colon), "user");
    if (!user.ok()) return user.status();
    out.user = *std::move(user);
    out.password.clear();
    if (colon != std::string_view::npos) {
      auto password = PercentDecode(userinfo.substr(colon + 1), "password");
      if (!password.ok()) return password.status();
      out.password = *std::move(password);
    }
  }

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal: [::1]:5672
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid("unterminated '[' in the host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid("unexpected text after the host");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
  }
  auto decoded_host = PercentDecode(host, "host");
  if (!decoded_host.ok()) return decoded_host.status();
  if (decoded_host->empty()) return Invalid("missing host");
  out.host = *std::move(decoded_host);

  if (has_port) {
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
        value > 65535) {
      return Invalid("the port must be a number from 1 to 65535");
    }
    out.port = value;
  }

  auto vhost = PercentDecode(path, "vhost");
  if (!vhost.ok()) return vhost.status();
  if (!vhost->empty()) out.vhost = *std::move(vhost);
  return out;
}

}  // namespace gaze::amqp
