// The worker's scratch space for imports (downloaded and converted images) on local disk.
//
// Several workers may share one --work_dir (GAZE_WORKERS=N on one host), and a worker may die
// at any moment (kill -9, OOM) with files in it. So each worker owns a directory of its own,
// <root>/<worker id>/, and proves it is alive by holding an flock on <root>/<worker id>.lock,
// which the kernel releases when the process dies however it dies. Sweep() removes the
// directory of every worker whose lock it can take: that worker is gone. A worker restarted
// under the same id (a Kubernetes pod name) takes its own leftovers back and clears them.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace gaze::worker {

class WorkDir {
 public:
  // Creates <root>/<worker id>/ (emptied if it exists) and locks it for this process. A worker
  // id is made safe for a file name first (characters outside [A-Za-z0-9._-] become '_').
  // FAILED_PRECONDITION when a live process already holds that id's lock.
  static absl::StatusOr<WorkDir> Open(const std::string& root, const std::string& worker_id);

  WorkDir(WorkDir&& other) noexcept;
  WorkDir& operator=(WorkDir&&) = delete;
  WorkDir(const WorkDir&) = delete;
  // Removes this worker's directory and lock.
  ~WorkDir();

  // Removes the directories of dead workers; returns how many. Errors are logged, not fatal.
  int Sweep() const;

  // A new, empty directory for one attempt at a task, inside this worker's directory.
  absl::StatusOr<std::string> CreateTaskDir(const std::string& task_id, int attempt) const;
  // Removes a directory CreateTaskDir made, and everything in it. Errors are logged.
  void RemoveTaskDir(const std::string& path) const;

  const std::string& path() const { return dir_; }

 private:
  WorkDir(std::string root, std::string dir, std::string lock_path, int lock_fd)
      : root_(std::move(root)),
        dir_(std::move(dir)),
        lock_path_(std::move(lock_path)),
        lock_fd_(lock_fd) {}

  std::string root_;
  std::string dir_;
  std::string lock_path_;
  int lock_fd_;
};

}  // namespace gaze::worker
