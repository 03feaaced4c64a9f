#include "bench/workload_spec.h"

#include <charconv>

namespace gaze::bench {
namespace {

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

}  // namespace

std::optional<WorkloadSpec> WorkloadSpec::Parse(std::string_view text, std::string* error) {
  WorkloadSpec spec;
  spec.text_ = std::string(text);
  size_t colon = text.find(':');
  spec.name_ = std::string(text.substr(0, colon));
  bool name_ok = !spec.name_.empty();
  for (char c : spec.name_) name_ok = name_ok && IsNameChar(c);
  if (!name_ok) {
    *error = "workload \"" + std::string(text) + "\": expected NAME[:KEY=VALUE,...]";
    return std::nullopt;
  }
  if (colon == std::string_view::npos) return spec;
  std::string_view rest = text.substr(colon + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      *error =
          "workload \"" + std::string(text) + "\": \"" + std::string(item) + "\" is not KEY=VALUE";
      return std::nullopt;
    }
    spec.params_[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return spec;
}

std::optional<std::string> WorkloadSpec::UnknownKey(
    std::initializer_list<std::string_view> allowed) const {
  for (const auto& [key, value] : params_) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) return key;
  }
  return std::nullopt;
}

int64_t WorkloadSpec::Int(std::string_view key, int64_t fallback, std::string* error) const {
  auto it = params_.find(key);
  if (it == params_.end()) return fallback;
  int64_t v = 0;
  const std::string& s = it->second;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 0) {
    *error = name_ + ": " + std::string(key) + "=" + s + " is not a non-negative integer";
    return fallback;
  }
  return v;
}

double WorkloadSpec::Seconds(std::string_view key, double fallback, std::string* error) const {
  auto it = params_.find(key);
  if (it == params_.end()) return fallback;
  double v = 0;
  const std::string& s = it->second;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 0) {
    *error = name_ + ": " + std::string(key) + "=" + s + " is not a number of seconds";
    return fallback;
  }
  return v;
}

uint64_t WorkloadSpec::Bytes(std::string_view key, uint64_t fallback, std::string* error) const {
  auto it = params_.find(key);
  if (it == params_.end()) return fallback;
  std::string_view s = it->second;
  uint64_t scale = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K':
      case 'k':
        scale = uint64_t{1} << 10;
        break;
      case 'M':
      case 'm':
        scale = uint64_t{1} << 20;
        break;
      case 'G':
      case 'g':
        scale = uint64_t{1} << 30;
        break;
      default:
        break;
    }
    if (scale != 1) s.remove_suffix(1);
  }
  uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    *error = name_ + ": " + std::string(key) + "=" + it->second + " is not a size (e.g. 256M)";
    return fallback;
  }
  return v * scale;
}

std::string WorkloadSpec::Text(std::string_view key, std::string_view fallback) const {
  auto it = params_.find(key);
  return it == params_.end() ? std::string(fallback) : it->second;
}

}  // namespace gaze::bench
