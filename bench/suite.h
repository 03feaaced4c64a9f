// gaze-bench's workloads over the public Images API v2, so that the same suite runs against
// Gaze and against Glance. Each workload prints one JSON line on stdout; progress and
// preparation go to stderr.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace gaze::bench {

struct BenchOptions {
  std::string url;
  std::string token;
  int concurrency = 32;
  double warmup_s = 3;
  double duration_s = 10;
  bool keep_images = false;  // leave the images the run created (seeds always stay)
  // Before each workload, wait up to this long for CPU use outside the watched processes and
  // the generator to fall below quiet_cores (0: do not wait). On a shared machine another
  // program's build would otherwise be measured with the server.
  double quiet_wait_s = 0;
  double quiet_cores = 0.15;
  // Measure a repeatable workload again, up to this many times, when programs nobody watched
  // used more than twice quiet_cores during its window (needs watched processes). The line
  // printed is the least disturbed attempt.
  int quiet_retries = 0;
  // Processes whose CPU and memory each window records: Gaze processes (memory counts towards
  // the RSS target), and other processes counted with their descendants (CPU only).
  std::vector<std::pair<std::string, int>> watch;
  std::vector<std::pair<std::string, int>> watch_tree;
};

// Runs the workloads in order. Returns 0, 1 when a workload could not run, 2 for bad
// arguments.
int RunBench(const BenchOptions& options, const std::vector<std::string>& workloads);

// The workload reference printed by --help.
extern const char kWorkloadHelp[];

}  // namespace gaze::bench
