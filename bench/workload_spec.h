// Workload arguments of gaze-bench: NAME[:KEY=VALUE[,KEY=VALUE...]], e.g. `create:c=64`,
// `list:filter=tag,page=deep`, `upload:size=256M,parallel=8`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gaze::bench {

class WorkloadSpec {
 public:
  // nullopt (and *error) when the text is not NAME[:KEY=VALUE,...].
  static std::optional<WorkloadSpec> Parse(std::string_view text, std::string* error);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }

  // The first key not in `allowed`, if any.
  std::optional<std::string> UnknownKey(std::initializer_list<std::string_view> allowed) const;

  // The value of `key`, or `fallback` when absent; *error is set when it does not parse.
  int64_t Int(std::string_view key, int64_t fallback, std::string* error) const;
  double Seconds(std::string_view key, double fallback, std::string* error) const;
  // A byte count with an optional K, M or G suffix (powers of 1024).
  uint64_t Bytes(std::string_view key, uint64_t fallback, std::string* error) const;
  std::string Text(std::string_view key, std::string_view fallback) const;

 private:
  std::string name_;
  std::string text_;
  std::map<std::string, std::string, std::less<>> params_;
};

}  // namespace gaze::bench
