// Runs a helper program (qemu-img) on untrusted input, contained: no shell (execve with an argv,
// so no file name is ever interpreted), a fixed environment, no inherited descriptors, resource
// limits set in the child before exec (as oslo.concurrency's prlimit does for Glance's
// qemu-img calls), its own process group, and a wall-clock timeout after which the group is
// killed. The worker blocks its termination signals and ignores SIGPIPE; the child starts with
// neither.
#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gaze::worker {

struct ProcessLimits {
  // RLIMIT_AS: allocations beyond it fail in the child.
  std::optional<uint64_t> address_space_bytes;
  // RLIMIT_CPU: the child gets SIGXCPU, then SIGKILL, after this much CPU time.
  std::optional<uint64_t> cpu_seconds;
  absl::Duration timeout = absl::Minutes(1);
  // Standard output kept beyond this is an error (the caller expects a small answer).
  size_t max_stdout = 1 << 20;
};

struct ProcessResult {
  // The exit status, or -1 when a signal ended the process.
  int exit_code = -1;
  int signal = 0;  // the signal that ended it, 0 when it exited
  std::string out;
  std::string err;  // the last 4 KiB of its standard error
};

// Runs `argv` (argv[0] an absolute path) to completion. CANCELLED once `stop` is requested and
// DEADLINE_EXCEEDED when `limits.timeout` passes, both after killing the process group;
// RESOURCE_EXHAUSTED when standard output exceeds `limits.max_stdout`; UNAVAILABLE or INTERNAL
// when the program cannot be started. A program that runs and fails is an OK result with its
// exit code.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const ProcessLimits& limits, std::stop_token stop = {});

// The absolute path of `program`: itself when it contains a '/', else the first executable of
// that name in the directories of $PATH. NOT_FOUND when there is none.
absl::StatusOr<std::string> FindExecutable(const std::string& program);

}  // namespace gaze::worker
