// What the server processes cost while a workload is measured, read from /proc: CPU seconds
// (utime + stime), resident set size now (VmRSS) and at its peak (VmHWM, which the window
// resets through /proc/<pid>/clear_refs so that the peak is the window's own), its anonymous
// part (RssAnon: heap and stacks, what the process itself allocated; the rest is mostly
// shared-library text that every Gaze process maps) and the proportional set size (Pss, shared
// pages divided among their users), plus the machine's busy CPU from /proc/stat and the
// generator's own CPU from getrusage. Linux only; every reading is optional, because the
// server under test may run on another host.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gaze::bench {

struct ProcReading {
  double cpu_seconds = 0;
  // Of the children it has waited for (cutime + cstime): the task-worker's qemu-img.
  double children_cpu_seconds = 0;
  uint64_t rss_kb = 0;
  uint64_t hwm_kb = 0;
  uint64_t anon_kb = 0;
};

// Parses the contents of /proc/<pid>/stat (CPU ticks) and /proc/<pid>/status (memory).
std::optional<double> ParseStatCpuTicks(std::string_view stat);
std::optional<double> ParseStatChildCpuTicks(std::string_view stat);
std::optional<int> ParseStatParentPid(std::string_view stat);
uint64_t ParseStatusKb(std::string_view status, std::string_view field);

std::optional<ProcReading> ReadProc(int pid);
// Pss from /proc/<pid>/smaps_rollup (0 when unreadable).
uint64_t ReadPssKb(int pid);
// CPU seconds of `root` and of every process below it (a PostgreSQL postmaster and its
// backends), by pid.
std::map<int, double> TreeCpuSeconds(int root);
// The generator's own user + system CPU seconds.
double SelfCpuSeconds();
// Busy (non-idle, non-iowait) CPU seconds of the whole machine, summed over its cores.
double MachineBusySeconds();

// The processes a run watches, and one measured window over them.
class ProcWatch {
 public:
  // `tree`: count the CPU of the process and all its descendants, and no memory (a database's
  // shared buffers make per-process RSS meaningless). Otherwise it is a Gaze process whose
  // memory counts towards the RSS target, and whose CPU includes that of the children it
  // waited for during the window (the task-worker's qemu-img), also given as children_cpu_s.
  void Watch(std::string name, int pid, bool tree);
  bool empty() const { return procs_.empty(); }

  void Begin();
  // Samples RSS; the peaks of the sums over the Gaze processes are sampled maxima.
  void Sample();
  // {"<name>": {"cpu_s", "cores", "rss_mb", "rss_peak_mb", "anon_peak_mb", "pss_mb"}, ...,
  //  "gaze_rss_sum_peak_mb", "gaze_anon_sum_peak_mb", "gaze_pss_sum_mb"}
  boost::json::object End(double wall_seconds);

 private:
  struct Proc {
    std::string name;
    int pid = 0;
    bool tree = false;
    double cpu_at_begin = 0;
    double children_cpu_at_begin = 0;
    std::map<int, double> tree_cpu_at_begin;
    bool hwm_reset = false;
    uint64_t anon_peak_kb = 0;
  };
  std::vector<Proc> procs_;
  uint64_t rss_sum_peak_kb_ = 0;
  uint64_t anon_sum_peak_kb_ = 0;
};

}  // namespace gaze::bench
