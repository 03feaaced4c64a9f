#include "task-worker/work_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/log.h"

namespace gaze::worker {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kLockSuffix = ".lock";

std::string SafeName(std::string_view name) {
  std::string out;
  // Never ".", "..", a hidden name or nothing. (Prefixing rather than inserting afterwards also
  // spares GCC 12 a false -Wrestrict in std::string::insert.)
  if (name.empty() || name.front() == '.') out.push_back('w');
  for (char c : name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    out.push_back(safe ? c : '_');
  }
  return out;
}

enum class Lock { kTaken, kBusy, kGone };

// Takes the flock of the file at `path` without waiting, and makes sure the file locked is
// still the one at `path`: another process may have removed it (and another yet created a new
// one) between our open and our flock. `fd` is open and locked only for kTaken.
Lock TryLock(const std::string& path, bool create, int* fd) {
  for (;;) {
    *fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (*fd < 0) return Lock::kGone;
    if (::flock(*fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(*fd);
      return Lock::kBusy;
    }
    struct stat held {
    }, now{};
    if (::fstat(*fd, &held) == 0 && ::stat(path.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
        held.st_ino == now.st_ino) {
      return Lock::kTaken;
    }
    ::close(*fd);
    if (!create) return Lock::kGone;
  }
}

// Removes `dir` and then, while still holding its lock, the lock file: the lock file goes last,
// so a directory never outlives the lock that says whose it is.
bool RemoveLocked(const std::string& dir, const std::string& lock_path) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) {
    log::Warning("cannot remove a work directory").Field("dir", dir).Field("error", ec.message());
    return false;
  }
  ::unlink(lock_path.c_str());
  return true;
}

}  // namespace

absl::StatusOr<WorkDir> WorkDir::Open(const std::string& root, const std::string& worker_id) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", root, ": ", ec.message()));
  const std::string name = SafeName(worker_id);
  const std::string lock_path = absl::StrCat(root, "/", name, kLockSuffix);
  int fd = -1;
  switch (TryLock(lock_path, /*create=*/true, &fd)) {
    case Lock::kTaken:
      break;
    case Lock::kBusy:
      return absl::FailedPreconditionError(absl::StrCat("another live worker uses the worker id ",
                                                        worker_id, " (", lock_path, " is locked)"));
    case Lock::kGone:
      return absl::UnavailableError(
          absl::StrCat("cannot create ", lock_path, ": ", std::strerror(errno)));
  }
  const std::string dir = absl::StrCat(root, "/", name);
  // Leftovers of an earlier process with this id, which is dead since we hold its lock.
  fs::remove_all(dir, ec);
  if (!ec) fs::create_directory(dir, ec);
  if (ec) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  }
  fs::permissions(dir, fs::perms::owner_all, ec);
  return WorkDir(root, dir, lock_path, fd);
}

WorkDir::WorkDir(WorkDir&& other) noexcept
    : root_(std::move(other.root_)),
      dir_(std::move(other.dir_)),
      lock_path_(std::move(other.lock_path_)),
      lock_fd_(other.lock_fd_) {
  other.lock_fd_ = -1;
}

WorkDir::~WorkDir() {
  if (lock_fd_ < 0) return;
  RemoveLocked(dir_, lock_path_);
  ::close(lock_fd_);
}

int WorkDir::Sweep() const {
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string lock_path = it->path().string();
    const std::string file = it->path().filename().string();
    if (!absl::EndsWith(file, kLockSuffix) || lock_path == lock_path_) continue;
    int fd = -1;
    if (TryLock(lock_path, /*create=*/false, &fd) != Lock::kTaken) continue;
    const std::string dir = lock_path.substr(0, lock_path.size() - kLockSuffix.size());
    if (RemoveLocked(dir, lock_path)) {
      log::Info("removed the work directory of a dead worker").Field("dir", dir);
      ++removed;
    }
    ::close(fd);
  }
  if (ec) {
    log::Warning("cannot list the work directory").Field("dir", root_).Field("error", ec.message());
  }
  return removed;
}

absl::StatusOr<std::string> WorkDir::CreateTaskDir(const std::string& task_id, int attempt) const {
  const std::string path = absl::StrCat(dir_, "/", SafeName(task_id), "-", attempt);
  std::error_code ec;
  fs::remove_all(path, ec);
  if (!ec) fs::create_directory(path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", path, ": ", ec.message()));
  return path;
}

void WorkDir::RemoveTaskDir(const std::string& path) const {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    log::Warning("cannot remove a task's work directory")
        .Field("dir", path)
        .Field("error", ec.message());
  }
}

}  // namespace gaze::worker
