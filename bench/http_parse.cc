#include "bench/http_parse.h"

#include <charconv>
#include <cstring>

namespace gaze::bench {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// True when the comma-separated header value lists `token` (case-insensitively).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (IEquals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

// `i` is at an opening quote: returns the index just past the closing one, or npos. Strings
// are most of a Glance document, so they are skipped with memchr rather than byte by byte.
size_t SkipString(std::string_view s, size_t i) {
  const char* base = s.data();
  size_t pos = i + 1;
  for (;;) {
    if (pos >= s.size()) return std::string_view::npos;
    const void* hit = std::memchr(base + pos, '"', s.size() - pos);
    if (hit == nullptr) return std::string_view::npos;
    size_t q = static_cast<size_t>(static_cast<const char*>(hit) - base);
    size_t backslashes = 0;
    while (q - backslashes > i + 1 && s[q - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return q + 1;
    pos = q + 1;
  }
}

// `i` is at the first character of a value: returns the index just past it, or npos.
size_t SkipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return std::string_view::npos;
  if (s[i] == '"') return SkipString(s, i);
  if (s[i] != '{' && s[i] != '[') {
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !IsSpace(s[i])) ++i;
    return i;
  }
  int depth = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      i = SkipString(s, i);
      if (i == std::string_view::npos) return i;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
    ++i;
  }
  return std::string_view::npos;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool Hex4(std::string_view s, size_t i, uint32_t* out) {
  if (i + 4 > s.size()) return false;
  auto r = std::from_chars(s.data() + i, s.data() + i + 4, *out, 16);
  return r.ec == std::errc() && r.ptr == s.data() + i + 4;
}

// Decodes the JSON string whose quotes are at `open` and `close - 1`.
std::optional<std::string> Unescape(std::string_view s, size_t open, size_t close) {
  std::string out;
  out.reserve(close - open - 2);
  for (size_t i = open + 1; i + 1 < close; ++i) {
    char c = s[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    char e = s[++i];
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!Hex4(s, i + 1, &cp)) return std::nullopt;
        i += 4;
        uint32_t low = 0;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 2 < close && s[i + 1] == '\\' && s[i + 2] == 'u' &&
            Hex4(s, i + 3, &low) && low >= 0xDC00 && low < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        }
        AppendUtf8(cp, &out);
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

}  // namespace

std::optional<EndpointUrl> ParseEndpointUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() || !IEquals(url.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  url.remove_prefix(kScheme.size());
  size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : url.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  EndpointUrl out;
  std::string_view host = authority, port = "80";
  if (authority.front() == '[') {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  unsigned port_number = 0;
  auto r = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (host.empty() || r.ec != std::errc() || r.ptr != port.data() + port.size() ||
      port_number == 0 || port_number > 65535) {
    return std::nullopt;
  }
  out.host = std::string(host);
  out.port = std::string(port);
  out.base_path = std::string(path);
  out.host_header = std::string(authority);
  return out;
}

bool ParseResponseHead(std::string_view head, ResponseHead* out) {
  *out = ResponseHead{};
  size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return false;
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    return false;
  }
  bool http10 = status_line[7] == '0';
  auto r = std::from_chars(status_line.data() + 9, status_line.data() + 12, out->status);
  if (r.ec != std::errc() || r.ptr != status_line.data() + 12 || out->status < 100) return false;
  bool keep_alive_header = false;
  size_t pos = eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) return false;
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (IEquals(name, "content-length")) {
      uint64_t n = 0;
      auto cr = std::from_chars(value.data(), value.data() + value.size(), n);
      if (cr.ec != std::errc() || cr.ptr != value.data() + value.size()) return false;
      out->content_length = n;
    } else if (IEquals(name, "transfer-encoding")) {
      out->chunked = HasToken(value, "chunked");
    } else if (IEquals(name, "connection")) {
      if (HasToken(value, "close")) out->close = true;
      if (HasToken(value, "keep-alive")) keep_alive_header = true;
    }
  }
  if (http10 && !keep_alive_header) out->close = true;
  return true;
}

bool ParseChunkSize(std::string_view line, uint64_t* out) {
  size_t end = line.find_first_of("; \t");
  std::string_view digits = line.substr(0, end);
  if (digits.empty() || digits.size() > 15) return false;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), *out, 16);
  return r.ec == std::errc() && r.ptr == digits.data() + digits.size();
}

std::optional<std::string> TopLevelString(std::string_view json, std::string_view key) {
  size_t i = SkipSpace(json, 0);
  if (i >= json.size() || json[i] != '{') return std::nullopt;
  i = SkipSpace(json, i + 1);
  if (i < json.size() && json[i] == '}') return std::nullopt;
  while (i < json.size()) {
    if (json[i] != '"') return std::nullopt;
    size_t key_end = SkipString(json, i);
    if (key_end == std::string_view::npos) return std::nullopt;
    // Keys with escapes never equal the plain keys the workloads ask for.
    bool match = json.substr(i + 1, key_end - i - 2) == key;
    i = SkipSpace(json, key_end);
    if (i >= json.size() || json[i] != ':') return std::nullopt;
    i = SkipSpace(json, i + 1);
    if (match) {
      if (i >= json.size() || json[i] != '"') return std::nullopt;
      size_t value_end = SkipString(json, i);
      if (value_end == std::string_view::npos) return std::nullopt;
      return Unescape(json, i, value_end);
    }
    i = SkipValue(json, i);
    if (i == std::string_view::npos) return std::nullopt;
    i = SkipSpace(json, i);
    if (i >= json.size() || json[i] != ',') return std::nullopt;
    i = SkipSpace(json, i + 1);
  }
  return std::nullopt;
}

std::string QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0F];
    }
  }
  return out;
}

}  // namespace gaze::bench
