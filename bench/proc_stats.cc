#include "bench/proc_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace gaze::bench {
namespace {

double TicksPerSecond() {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return ticks;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The fields after "pid (comm) ": the command name may hold spaces and parentheses, so the
// split starts after the last ')'.
std::vector<std::string_view> StatFields(std::string_view stat) {
  std::vector<std::string_view> fields;
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return fields;
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    size_t space = rest.find(' ');
    if (!rest.empty()) fields.push_back(rest.substr(0, space));
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space);
  }
  return fields;
}

bool ToNumber(std::string_view s, uint64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

double Mb(uint64_t kb) { return std::round(static_cast<double>(kb) / 1024.0 * 10) / 10; }
double Round3(double v) { return std::round(v * 1000) / 1000; }

}  // namespace

std::optional<double> ParseStatCpuTicks(std::string_view stat) {
  // Fields 14 (utime) and 15 (stime) of proc(5); StatFields starts at field 3 (state).
  std::vector<std::string_view> f = StatFields(stat);
  uint64_t utime = 0, stime = 0;
  if (f.size() < 13 || !ToNumber(f[11], &utime) || !ToNumber(f[12], &stime)) return std::nullopt;
  return static_cast<double>(utime + stime);
}

std::optional<double> ParseStatChildCpuTicks(std::string_view stat) {
  // Fields 16 (cutime) and 17 (cstime).
  std::vector<std::string_view> f = StatFields(stat);
  uint64_t cutime = 0, cstime = 0;
  if (f.size() < 15 || !ToNumber(f[13], &cutime) || !ToNumber(f[14], &cstime)) return std::nullopt;
  return static_cast<double>(cutime + cstime);
}

std::optional<int> ParseStatParentPid(std::string_view stat) {
  std::vector<std::string_view> f = StatFields(stat);
  uint64_t ppid = 0;
  if (f.size() < 2 || !ToNumber(f[1], &ppid)) return std::nullopt;
  return static_cast<int>(ppid);
}

uint64_t ParseStatusKb(std::string_view status, std::string_view field) {
  size_t pos = 0;
  while (pos < status.size()) {
    size_t end = status.find('\n', pos);
    std::string_view line = status.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (line.size() > field.size() && line.substr(0, field.size()) == field &&
        line[field.size()] == ':') {
      std::string_view v = line.substr(field.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      uint64_t kb = 0;
      std::from_chars(v.data(), v.data() + v.size(), kb);
      return kb;
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return 0;
}

std::optional<ProcReading> ReadProc(int pid) {
  std::string dir = "/proc/" + std::to_string(pid);
  std::optional<std::string> stat = ReadFile(dir + "/stat");
  std::optional<std::string> status = ReadFile(dir + "/status");
  if (!stat || !status) return std::nullopt;
  std::optional<double> ticks = ParseStatCpuTicks(*stat);
  if (!ticks) return std::nullopt;
  ProcReading r;
  r.cpu_seconds = *ticks / TicksPerSecond();
  r.children_cpu_seconds = ParseStatChildCpuTicks(*stat).value_or(0) / TicksPerSecond();
  r.rss_kb = ParseStatusKb(*status, "VmRSS");
  r.hwm_kb = ParseStatusKb(*status, "VmHWM");
  r.anon_kb = ParseStatusKb(*status, "RssAnon");
  return r;
}

uint64_t ReadPssKb(int pid) {
  std::optional<std::string> rollup = ReadFile("/proc/" + std::to_string(pid) + "/smaps_rollup");
  return rollup ? ParseStatusKb(*rollup, "Pss") : 0;
}

std::map<int, double> TreeCpuSeconds(int root) {
  // One pass over /proc: the parent and CPU of every process, then root's descendants.
  std::map<int, int> parent;
  std::map<int, double> ticks;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      uint64_t pid = 0;
      std::string_view name = e->d_name;
      if (!ToNumber(name, &pid)) continue;
      std::optional<std::string> stat = ReadFile("/proc/" + std::string(name) + "/stat");
      if (!stat) continue;
      auto ppid = ParseStatParentPid(*stat);
      auto t = ParseStatCpuTicks(*stat);
      if (!ppid || !t) continue;
      parent[static_cast<int>(pid)] = *ppid;
      ticks[static_cast<int>(pid)] = *t;
    }
    closedir(d);
  }
  std::map<int, double> tree;
  for (const auto& [pid, t] : ticks) {
    for (int p = pid, hops = 0; p > 1 && hops < 64; ++hops) {
      if (p == root) {
        tree[pid] = t / TicksPerSecond();
        break;
      }
      auto it = parent.find(p);
      if (it == parent.end()) break;
      p = it->second;
    }
  }
  return tree;
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

double MachineBusySeconds() {
  std::optional<std::string> stat = ReadFile("/proc/stat");
  if (!stat) return 0;
  // "cpu  user nice system idle iowait irq softirq steal ..."
  std::istringstream line(stat->substr(0, stat->find('\n')));
  std::string label;
  line >> label;
  double busy = 0;
  uint64_t v = 0;
  for (int i = 0; i < 8 && line >> v; ++i) {
    if (i != 3 && i != 4) busy += static_cast<double>(v);
  }
  return busy / TicksPerSecond();
}

void ProcWatch::Watch(std::string name, int pid, bool tree) {
  Proc p;
  p.name = std::move(name);
  p.pid = pid;
  p.tree = tree;
  procs_.push_back(std::move(p));
}

void ProcWatch::Begin() {
  rss_sum_peak_kb_ = 0;
  anon_sum_peak_kb_ = 0;
  for (Proc& p : procs_) {
    p.anon_peak_kb = 0;
    if (p.tree) {
      p.tree_cpu_at_begin = TreeCpuSeconds(p.pid);
      continue;
    }
    // "5" resets the peak RSS to the current RSS (proc(5), clear_refs): the window's peak is
    // then its own, not the start-up's or an earlier workload's.
    std::ofstream clear("/proc/" + std::to_string(p.pid) + "/clear_refs");
    clear << "5";
    clear.flush();
    p.hwm_reset = static_cast<bool>(clear);
    auto r = ReadProc(p.pid);
    p.cpu_at_begin = r ? r->cpu_seconds : 0;
    p.children_cpu_at_begin = r ? r->children_cpu_seconds : 0;
  }
  Sample();
}

void ProcWatch::Sample() {
  uint64_t rss = 0, anon = 0;
  for (Proc& p : procs_) {
    if (p.tree) continue;
    if (auto r = ReadProc(p.pid)) {
      rss += r->rss_kb;
      anon += r->anon_kb;
      p.anon_peak_kb = std::max(p.anon_peak_kb, r->anon_kb);
    }
  }
  rss_sum_peak_kb_ = std::max(rss_sum_peak_kb_, rss);
  anon_sum_peak_kb_ = std::max(anon_sum_peak_kb_, anon);
}

boost::json::object ProcWatch::End(double wall_seconds) {
  Sample();
  boost::json::object out;
  uint64_t pss_sum = 0;
  for (const Proc& p : procs_) {
    boost::json::object o;
    double cpu = 0;
    if (p.tree) {
      // Per process: a backend that exited in the window takes its CPU with it (unknowable
      // afterwards) instead of making the sum go down; one that started counts whole.
      for (const auto& [pid, now] : TreeCpuSeconds(p.pid)) {
        auto before = p.tree_cpu_at_begin.find(pid);
        cpu += now - (before == p.tree_cpu_at_begin.end() ? 0 : before->second);
      }
    } else if (auto r = ReadProc(p.pid)) {
      double children = r->children_cpu_seconds - p.children_cpu_at_begin;
      cpu = r->cpu_seconds - p.cpu_at_begin + children;
      if (children > 0) o["children_cpu_s"] = Round3(children);
      uint64_t pss = ReadPssKb(p.pid);
      pss_sum += pss;
      o["rss_mb"] = Mb(r->rss_kb);
      // Without the reset (not permitted), VmHWM is the peak since the process started.
      o[p.hwm_reset ? "rss_peak_mb" : "rss_peak_since_start_mb"] = Mb(r->hwm_kb);
      o["anon_peak_mb"] = Mb(p.anon_peak_kb);
      o["pss_mb"] = Mb(pss);
    } else {
      o["gone"] = true;
    }
    o["cpu_s"] = Round3(cpu);
    o["cores"] = Round3(wall_seconds > 0 ? cpu / wall_seconds : 0);
    out[p.name] = std::move(o);
  }
  out["gaze_rss_sum_peak_mb"] = Mb(rss_sum_peak_kb_);
  out["gaze_anon_sum_peak_mb"] = Mb(anon_sum_peak_kb_);
  out["gaze_pss_sum_mb"] = Mb(pss_sum);
  return out;
}

}  // namespace gaze::bench
