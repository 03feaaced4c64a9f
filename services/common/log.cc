#include "services/common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "services/common/json_string.h"

namespace gaze::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
// Set once at start-up, before any thread logs.
std::string g_service = "gaze";

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

void AppendTimestamp(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // sized for any int, so the compiler can prove nothing is truncated
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  out += buf;
}

}  // namespace

void Init(std::string_view service, Level min_level) {
  g_service = std::string(service);
  g_min_level.store(static_cast<int>(min_level));
}

bool ParseLevel(std::string_view text, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarning, Level::kError}) {
    if (text == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(); }

Line::Line(Level level, std::string_view msg) : enabled_(Enabled(level)) {
  if (!enabled_) return;
  buf_.reserve(256);
  buf_ += "{\"ts\":\"";
  AppendTimestamp(buf_);
  buf_ += "\",\"level\":\"";
  buf_ += LevelName(level);
  buf_ += "\",\"service\":";
  AppendJsonString(buf_, g_service);
  buf_ += ",\"msg\":";
  AppendJsonString(buf_, msg);
}

Line::~Line() {
  if (!enabled_) return;
  buf_ += "}\n";
  // One write per line: atomic with respect to other writers for lines < PIPE_BUF on pipes,
  // and in practice for files opened with O_APPEND.
  const char* p = buf_.data();
  size_t left = buf_.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

Line& Line::Field(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  buf_ += ',';
  AppendJsonString(buf_, key);
  buf_ += ':';
  AppendJsonString(buf_, value);
  return *this;
}

Line& Line::Field(std::string_view key, int64_t value) {
  if (!enabled_) return *this;
  buf_ += ',';
  AppendJsonString(buf_, key);
  buf_ += ':';
  buf_ += std::to_string(value);
  return *this;
}

Line& Line::Field(std::string_view key, uint64_t value) {
  if (!enabled_) return *this;
  buf_ += ',';
  AppendJsonString(buf_, key);
  buf_ += ':';
  buf_ += std::to_string(value);
  return *this;
}

Line& Line::Field(std::string_view key, double value) {
  if (!enabled_) return *this;
  buf_ += ',';
  AppendJsonString(buf_, key);
  char num[32];
  std::snprintf(num, sizeof num, ":%.6g", value);
  buf_ += num;
  return *this;
}

Line& Line::Field(std::string_view key, bool value) {
  if (!enabled_) return *this;
  buf_ += ',';
  AppendJsonString(buf_, key);
  buf_ += value ? ":true" : ":false";
  return *this;
}

}  // namespace gaze::log
