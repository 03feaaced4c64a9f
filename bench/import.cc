#include "bench/import.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace gaze::bench {
namespace {

double Round(double v, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

std::string Errno(const std::string& what, int err) { return what + ": " + std::strerror(err); }

boost::json::object Spread(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return {{"mean", Round(sum / static_cast<double>(values.size()), 3)},
          {"min", Round(*lo, 3)},
          {"max", Round(*hi, 3)}};
}

// Writes `length` bytes at `offset`, repeating `block`.
bool WriteRepeated(int fd, uint64_t offset, uint64_t length, std::string_view block,
                   std::string* error) {
  while (length > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, block.size()));
    ssize_t w = ::pwrite(fd, block.data(), n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = w < 0 ? errno : EIO;
      *error = Errno("writing the raw source", err);
      return false;
    }
    offset += static_cast<uint64_t>(w);
    length -= static_cast<uint64_t>(w);
  }
  return true;
}

}  // namespace

std::vector<Extent> SourceDataExtents(uint64_t size) {
  // Of every 8 regions (32 MiB), 0, 1, 2 and 5 are data.
  constexpr bool kData[8] = {true, true, true, false, false, true, false, false};
  std::vector<Extent> out;
  for (uint64_t i = 0; i * kSourceRegion < size; ++i) {
    if (!kData[i % 8]) continue;
    uint64_t begin = i * kSourceRegion;
    uint64_t end = std::min(size, begin + kSourceRegion);
    if (!out.empty() && out.back().offset + out.back().length == begin) {
      out.back().length = end - out.back().offset;
    } else {
      out.push_back({begin, end - begin});
    }
  }
  return out;
}

ImportState ClassifyImport(std::string_view status, std::string_view failed_import) {
  if (!failed_import.empty()) return ImportState::kFailed;
  if (status == "active") return ImportState::kActive;
  if (status == "importing" || status == "uploading") return ImportState::kRunning;
  return ImportState::kFailed;  // queued (reverted), killed, deleted, ...
}

std::string ImportCreateBody(std::string_view disk_format) {
  return R"({"name":"bench-import","disk_format":")" + std::string(disk_format) +
         R"(","container_format":"bare","tags":["gaze-bench"]})";
}

boost::json::object SummarizeImports(const std::vector<ImportTiming>& timings) {
  boost::json::object out;
  if (timings.empty()) return out;
  double stage_s = 0;
  uint64_t staged = 0;
  std::vector<double> imports, totals;
  boost::json::array each;
  for (const ImportTiming& t : timings) {
    stage_s += t.stage_s;
    staged += t.staged_bytes;
    imports.push_back(t.import_s);
    totals.push_back(t.total_s);
    each.push_back(Round(t.import_s, 3));
  }
  out["imports"] = timings.size();
  out["staged_bytes"] = staged / timings.size();
  out["stage_MB_per_s"] = Round(stage_s > 0 ? static_cast<double>(staged) / stage_s / 1e6 : 0, 1);
  out["import_s"] = Spread(imports);
  out["import_s_each"] = std::move(each);
  out["end_to_end_s"] = Spread(totals);
  return out;
}

bool RunProgram(const std::vector<std::string>& argv, std::string* error) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    *error = Errno("cannot run " + argv[0], err);
    return false;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    int err = errno;
    if (err != EINTR) {
      *error = Errno("waiting for " + argv[0], err);
      return false;
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  std::string command;
  for (const std::string& a : argv) command += (command.empty() ? "" : " ") + a;
  *error =
      command + (WIFEXITED(status) ? " exited with " + std::to_string(WEXITSTATUS(status))
                                   : " was killed by signal " + std::to_string(WTERMSIG(status)));
  return false;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

bool MappedFile::Open(const std::string& path, std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    *error = Errno(path, err);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    *error = path + ": cannot read its size, or it is empty";
    ::close(fd);
    return false;
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    *error = Errno("mapping " + path, err);
    return false;
  }
  ::madvise(p, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
  data_ = static_cast<const char*>(p);
  size_ = static_cast<size_t>(st.st_size);
  return true;
}

ImportFiles::~ImportFiles() {
  if (dir_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool ImportFiles::MakeDir(std::string* error) {
  if (!dir_.empty()) return true;
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/gaze-bench-import-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    int err = errno;
    *error = Errno("mkdtemp " + pattern, err);
    return false;
  }
  dir_ = pattern;
  return true;
}

std::optional<std::string> ImportFiles::Qcow2(uint64_t virtual_size, std::string_view block,
                                              std::string* error) {
  auto known = qcow2_.find(virtual_size);
  if (known != qcow2_.end()) return known->second;
  if (!MakeDir(error)) return std::nullopt;
  std::string name = dir_ + "/source-" + std::to_string(virtual_size);
  std::string raw = name + ".raw";
  std::string qcow2 = name + ".qcow2";
  int fd = ::open(raw.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    *error = Errno(raw, err);
    return std::nullopt;
  }
  bool ok = ::ftruncate(fd, static_cast<off_t>(virtual_size)) == 0;
  if (!ok) {
    int err = errno;
    *error = Errno("ftruncate " + raw, err);
  }
  for (const Extent& e : SourceDataExtents(virtual_size)) {
    if (!ok) break;
    ok = WriteRepeated(fd, e.offset, e.length, block, error);
  }
  ::close(fd);
  ok = ok && RunProgram({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2}, error);
  ::unlink(raw.c_str());
  if (!ok) return std::nullopt;
  qcow2_[virtual_size] = qcow2;
  return qcow2;
}

std::optional<double> ImportFiles::TimeConvertToRaw(const std::string& path,
                                                    std::string_view format, std::string* error) {
  if (!MakeDir(error)) return std::nullopt;
  std::string out = dir_ + "/converted.raw";
  auto start = std::chrono::steady_clock::now();
  bool ok =
      RunProgram({"qemu-img", "convert", "-f", std::string(format), "-O", "raw", path, out}, error);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::unlink(out.c_str());
  if (!ok) return std::nullopt;
  return Round(seconds, 3);
}

}  // namespace gaze::bench
