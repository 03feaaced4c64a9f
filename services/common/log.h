// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-25T09:31:18.123Z","level":"info","service":"api-gateway",
//    "msg":"image created","request_id":"req-…","image_id":"…"}
// Usage:  gaze::log::Info("image created").RequestId(rid).Field("image_id", id);
// The line is written when the temporary Line is destroyed (end of the statement).
// Writes are single write(2) calls, so lines from several threads never interleave.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gaze::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Sets the service name stamped on every line and the minimum level written.
void Init(std::string_view service, Level min_level);
// Parses "debug" | "info" | "warning" | "error".
bool ParseLevel(std::string_view text, Level* out);
bool Enabled(Level level);

class Line {
 public:
  Line(Level level, std::string_view msg);
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  ~Line();

  Line& RequestId(std::string_view request_id) { return Field("request_id", request_id); }
  Line& Field(std::string_view key, std::string_view value);
  Line& Field(std::string_view key, const char* value) {
    return Field(key, std::string_view(value));
  }
  Line& Field(std::string_view key, const std::string& value) {
    return Field(key, std::string_view(value));
  }
  Line& Field(std::string_view key, int64_t value);
  Line& Field(std::string_view key, int value) { return Field(key, static_cast<int64_t>(value)); }
  Line& Field(std::string_view key, uint64_t value);
  Line& Field(std::string_view key, double value);
  Line& Field(std::string_view key, bool value);

 private:
  bool enabled_;
  std::string buf_;
};

inline Line Debug(std::string_view msg) { return Line(Level::kDebug, msg); }
inline Line Info(std::string_view msg) { return Line(Level::kInfo, msg); }
inline Line Warning(std::string_view msg) { return Line(Level::kWarning, msg); }
inline Line Error(std::string_view msg) { return Line(Level::kError, msg); }

}  // namespace gaze::log
