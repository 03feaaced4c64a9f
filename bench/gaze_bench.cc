// gaze-bench: drives any OpenStack Images API v2 endpoint (Gaze or Glance) with the workloads
// of bench/README.md and prints one JSON line per workload. Wiring only: flags, then the suite.
#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "bench/suite.h"
#include "services/common/flags.h"

ABSL_FLAG(std::string, url, "", "Endpoint, http://host[:port][/prefix] (env GAZE_URL).");
ABSL_FLAG(std::string, token, "",
          "Keystone or static token sent as X-Auth-Token (env GAZE_TOKEN).");
ABSL_FLAG(int32_t, concurrency, 32, "Connections per workload unless it says c=N.");
ABSL_FLAG(double, warmup, 3, "Seconds of unmeasured load before each timed window.");
ABSL_FLAG(double, duration, 10, "Seconds of each measured window.");
ABSL_FLAG(bool, keep_images, false,
          "Leave the images the run created (the seed images are always left).");
ABSL_FLAG(double, quiet_wait, 0,
          "Before each workload, wait up to this many seconds until programs other than the "
          "watched ones use less than --quiet_cores of CPU (needs --watch).");
ABSL_FLAG(double, quiet_cores, 0.15, "See --quiet_wait.");
ABSL_FLAG(int32_t, quiet_retries, 0,
          "Measure a workload again, up to this many times, when programs other than the watched "
          "ones used more than twice --quiet_cores during its window; the least disturbed "
          "attempt is printed.");
ABSL_FLAG(std::vector<std::string>, watch, {},
          "NAME=PID,...: local server processes whose CPU and memory each window records "
          "(memory counts towards the Gaze RSS figures).");
ABSL_FLAG(std::vector<std::string>, watch_tree, {},
          "NAME=PID,...: local processes whose CPU, with all their descendants', each window "
          "records (e.g. the PostgreSQL postmaster).");

namespace {

std::vector<std::pair<std::string, int>> NamedPids(const std::vector<std::string>& items,
                                                   const char* flag) {
  std::vector<std::pair<std::string, int>> out;
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    int pid = 0;
    const char* digits = item.data() + (eq == std::string::npos ? 0 : eq + 1);
    auto r = std::from_chars(digits, item.data() + item.size(), pid);
    if (eq == std::string::npos || eq == 0 || r.ec != std::errc() ||
        r.ptr != item.data() + item.size() || pid <= 0) {
      gaze::ConfigError(std::string("--") + flag + ": \"" + item + "\" is not NAME=PID");
    }
    out.emplace_back(item.substr(0, eq), pid);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string usage =
      "gaze-bench --url URL --token TOKEN [--concurrency N] [--warmup S] [--duration S] "
      "WORKLOAD...\n\n";
  usage += gaze::bench::kWorkloadHelp;
  std::vector<std::string> workloads = gaze::ParseFlagsWithEnv(argc, argv, usage);
  gaze::bench::BenchOptions options;
  options.url = absl::GetFlag(FLAGS_url);
  options.token = absl::GetFlag(FLAGS_token);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.warmup_s = absl::GetFlag(FLAGS_warmup);
  options.duration_s = absl::GetFlag(FLAGS_duration);
  options.keep_images = absl::GetFlag(FLAGS_keep_images);
  options.quiet_wait_s = absl::GetFlag(FLAGS_quiet_wait);
  options.quiet_cores = absl::GetFlag(FLAGS_quiet_cores);
  options.quiet_retries = absl::GetFlag(FLAGS_quiet_retries);
  options.watch = NamedPids(absl::GetFlag(FLAGS_watch), "watch");
  options.watch_tree = NamedPids(absl::GetFlag(FLAGS_watch_tree), "watch_tree");
  if (options.url.empty() || options.token.empty()) {
    gaze::ConfigError("--url and --token are required");
  }
  if (options.concurrency < 1) gaze::ConfigError("--concurrency must be at least 1");
  if (options.duration_s <= 0 || options.warmup_s < 0) {
    gaze::ConfigError("--duration must be positive and --warmup not negative");
  }
  return gaze::bench::RunBench(options, workloads);
}
