#include "api-gateway/public_url.h"

#include <arpa/inet.h>

#include <charconv>

namespace gaze::gateway {
namespace {

// Parses an IPv4 or IPv6 address into 16 bytes (IPv4 as ::ffff:a.b.c.d).
bool ParseAddress(std::string_view text, std::array<unsigned char, 16>* out, bool* v4) {
  std::string s(text);
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    out->fill(0);
    (*out)[10] = 0xff;
    (*out)[11] = 0xff;
    std::memcpy(out->data() + 12, &a4, 4);
    *v4 = true;
    return true;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(out->data(), &a6, 16);
    *v4 = false;
    return true;
  }
  return false;
}

std::string_view FirstValue(std::string_view header) {
  header = header.substr(0, header.find(','));
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  return header;
}

// A host[:port] safe to put into a URL and a header: letters, digits, '.', '-', ':', '[', ']'.
bool IsPlainHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<PublicUrl> PublicUrl::Create(std::string configured,
                                            const std::vector<std::string>& trusted_proxies) {
  PublicUrl out;
  out.configured_ = std::move(configured);
  for (const std::string& spec : trusted_proxies) {
    std::string_view text = spec;
    size_t slash = text.find('/');
    Network net;
    bool v4 = false;
    if (!ParseAddress(text.substr(0, slash), &net.address, &v4)) {
      return absl::InvalidArgumentError("not an IP address or network: " + spec);
    }
    net.prefix = 128;
    if (slash != std::string_view::npos) {
      std::string_view bits = text.substr(slash + 1);
      int prefix = -1;
      auto [ptr, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      int max = v4 ? 32 : 128;
      if (ec != std::errc() || ptr != bits.data() + bits.size() || prefix < 0 || prefix > max) {
        return absl::InvalidArgumentError("bad prefix length in " + spec);
      }
      net.prefix = v4 ? prefix + 96 : prefix;
    }
    out.trusted_.push_back(net);
  }
  return out;
}

bool PublicUrl::Trusted(std::string_view peer) const {
  std::array<unsigned char, 16> a{};
  bool v4 = false;
  if (trusted_.empty() || !ParseAddress(peer, &a, &v4)) return false;
  for (const Network& n : trusted_) {
    int full = n.prefix / 8;
    int rest = n.prefix % 8;
    if (std::memcmp(a.data(), n.address.data(), static_cast<size_t>(full)) != 0) continue;
    if (rest == 0) return true;
    auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    if ((a[static_cast<size_t>(full)] & mask) == (n.address[static_cast<size_t>(full)] & mask)) {
      return true;
    }
  }
  return false;
}

std::string PublicUrl::For(const Request& request) const {
  if (!Trusted(request.peer)) return configured_;
  auto proto_header = request.FindHeader("X-Forwarded-Proto");
  auto host_header = request.FindHeader("X-Forwarded-Host");
  if (!proto_header && !host_header) return configured_;
  std::string_view scheme_end = "://";
  size_t split = configured_.find(scheme_end);
  std::string scheme = configured_.substr(0, split);
  std::string rest = split == std::string::npos ? "" : configured_.substr(split + 3);
  std::string host = rest.substr(0, rest.find('/'));
  std::string path = rest.substr(host.size());
  if (proto_header) {
    std::string_view proto = FirstValue(*proto_header);
    if (proto == "http" || proto == "https") scheme = std::string(proto);
  }
  if (host_header) {
    std::string_view forwarded = FirstValue(*host_header);
    if (IsPlainHost(forwarded)) host = std::string(forwarded);
  }
  return scheme + "://" + host + path;
}

}  // namespace gaze::gateway
