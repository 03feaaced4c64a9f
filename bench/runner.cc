#include "bench/runner.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>

namespace gaze::bench {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// How often the servers' memory is sampled inside a window.
constexpr auto kSampleEvery = std::chrono::milliseconds(100);
// How long a timed run waits for operations still in flight at the end of its window before it
// closes their connections (a server that stopped answering must not hang the suite).
constexpr auto kGrace = std::chrono::seconds(30);

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double Round(double v, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

std::string StatusKey(int status) {
  if (status == kTransportError) return "io";
  if (status == kBadBody) return "bad_body";
  if (status == kImportFailed) return "import_failed";
  if (status == kImportTimeout) return "import_timeout";
  return std::to_string(status);
}

json::object LatencyJson(const LatencySummary& s) {
  return json::object{{"mean", Round(s.mean_ms, 3)},
                      {"p50", Round(s.p50_ms, 3)},
                      {"p90", Round(s.p90_ms, 3)},
                      {"p99", Round(s.p99_ms, 3)},
                      {"max", Round(s.max_ms, 3)}};
}

json::object ErrorsJson(const std::map<std::string, uint64_t>& errors) {
  json::object out;
  for (const auto& [status, n] : errors) out[status] = n;
  return out;
}

}  // namespace

Worker::Worker(asio::any_io_executor executor, ClientConfig& config, int i)
    : index(i), conn(std::move(executor), config), rng(0x9E3779B97F4A7C15ull + uint64_t(i)) {}

RunResult::RunResult(std::vector<std::string> kind_names) {
  kinds.resize(kind_names.size());
  for (size_t i = 0; i < kinds.size(); ++i) kinds[i].name = std::move(kind_names[i]);
}

json::object RunResult::Report() const {
  LatencySamples all;
  std::map<std::string, uint64_t> errors;
  uint64_t bytes = 0;
  for (const KindStats& k : kinds) {
    all.Merge(k.latency);
    for (const auto& [status, n] : k.errors) errors[status] += n;
    bytes += k.bytes;
  }
  auto per_second = [&](double v) { return window_s > 0 ? v / window_s : 0.0; };
  json::object out;
  LatencySummary summary = all.Summarize();
  out["ops"] = summary.count;
  out["ops_per_s"] = Round(per_second(static_cast<double>(summary.count)), 1);
  out["latency_ms"] = LatencyJson(summary);
  out["errors"] = ErrorsJson(errors);
  if (bytes > 0) {
    out["bytes"] = bytes;
    out["MB_per_s"] = Round(per_second(static_cast<double>(bytes)) / 1e6, 1);
  }
  out["window_s"] = Round(window_s, 3);
  if (exhausted) out["exhausted"] = true;
  out["client"] = json::object{{"cpu_s", Round(client_cpu_s, 3)},
                               {"cores", Round(per_second(client_cpu_s), 3)}};
  out["machine_busy_cores"] = Round(machine_busy_cores, 3);
  if (!servers.empty()) {
    out["servers"] = servers;
    // CPU nobody watched: another program on the box, which makes the figures suspect.
    double known = per_second(client_cpu_s);
    for (const auto& entry : servers) {
      if (const json::object* proc = entry.value().if_object()) {
        if (const json::value* c = proc->if_contains("cores")) known += c->to_number<double>();
      }
    }
    out["unaccounted_cores"] = Round(std::max(0.0, machine_busy_cores - known), 3);
  }
  if (kinds.size() > 1) {
    json::object by_kind;
    for (const KindStats& k : kinds) {
      LatencySummary s = k.latency.Summarize();
      by_kind[k.name] =
          json::object{{"ops", s.count},
                       {"ops_per_s", Round(per_second(static_cast<double>(s.count)), 1)},
                       {"latency_ms", LatencyJson(s)},
                       {"errors", ErrorsJson(k.errors)}};
    }
    out["by_kind"] = std::move(by_kind);
  }
  if (!first_error.empty()) out["first_error"] = first_error;
  return out;
}

// The schedule of one run and the bookkeeping its workers share (one thread: no locking).
struct Runner::Loop {
  Clock::time_point measure_from;  // operations completing in [measure_from, measure_to) count
  Clock::time_point measure_to = Clock::time_point::max();
  Clock::time_point stop_at = Clock::time_point::max();  // no operation starts after this
  bool one_op = false;                                   // each worker runs one operation
  int running = 0;
  Clock::time_point last_done;
  bool exhausted = false;
  asio::steady_timer* wake = nullptr;  // cancelled when the last worker stops
};

// The measured window: what the generator, the machine and the watched servers spent in it.
class Runner::Window {
 public:
  explicit Window(ProcWatch& watch) : watch_(watch) {}

  void Begin() {
    began_ = Clock::now();
    cpu_ = SelfCpuSeconds();
    busy_ = MachineBusySeconds();
    watch_.Begin();
    open_ = true;
  }
  // `active_s`: the part of the window in which operations ran (shorter when the workers ran
  // out of work), used for the rates.
  void End(double active_s, RunResult& result) {
    double wall = Seconds(Clock::now() - began_);
    result.window_s = active_s;
    result.client_cpu_s = SelfCpuSeconds() - cpu_;
    result.machine_busy_cores = wall > 0 ? (MachineBusySeconds() - busy_) / wall : 0;
    if (!watch_.empty()) result.servers = watch_.End(wall);
    open_ = false;
  }
  bool open() const { return open_; }

 private:
  ProcWatch& watch_;
  Clock::time_point began_;
  double cpu_ = 0;
  double busy_ = 0;
  bool open_ = false;
};

Runner::Runner(asio::any_io_executor executor, ClientConfig& config, ProcWatch& watch)
    : executor_(std::move(executor)), config_(config), watch_(watch) {}

std::vector<std::unique_ptr<Worker>> Runner::MakeWorkers(int n) {
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < n; ++i) workers.push_back(std::make_unique<Worker>(executor_, config_, i));
  return workers;
}

asio::awaitable<void> Runner::WorkerLoop(Worker& worker, const Op& op, Loop& loop,
                                         RunResult& result) {
  try {
    while (Clock::now() < loop.stop_at) {
      Clock::time_point started = Clock::now();
      OpOutcome out = co_await op(worker);
      Clock::time_point done = Clock::now();
      if (out.no_work) {
        loop.exhausted = true;
        break;
      }
      ++worker.ops;
      loop.last_done = std::max(loop.last_done, done);
      if (done >= loop.measure_from && done < loop.measure_to) {
        KindStats& kind = result.kinds[static_cast<size_t>(out.kind)];
        if (out.ok) {
          kind.latency.Add(done - started);
          kind.bytes += out.bytes;
        } else {
          ++kind.errors[StatusKey(out.status)];
          if (result.first_error.empty()) {
            result.first_error =
                StatusKey(out.status) + ": " +
                (worker.response.error.empty() ? worker.response.body.substr(0, 300)
                                               : worker.response.error);
          }
        }
      }
      if (loop.one_op) break;
    }
  } catch (const std::exception& e) {
    if (result.first_error.empty()) result.first_error = std::string("exception: ") + e.what();
  }
  if (--loop.running == 0 && loop.wake != nullptr) loop.wake->cancel();
}

asio::awaitable<void> Runner::Supervise(Loop& loop, std::vector<std::unique_ptr<Worker>>& workers,
                                        Window* window, RunResult& result) {
  asio::steady_timer timer(executor_);
  loop.wake = &timer;
  bool closed_connections = false;
  bool window_done = false;
  for (;;) {
    Clock::time_point now = Clock::now();
    if (window != nullptr) {
      if (!window_done && !window->open() && now >= loop.measure_from && loop.running > 0) {
        window->Begin();
      }
      if (window->open() && (now >= loop.measure_to || loop.running == 0)) {
        Clock::time_point active_end = loop.measure_to;
        if (loop.running == 0) active_end = std::min(active_end, loop.last_done);
        window->End(std::max(0.0, Seconds(active_end - loop.measure_from)), result);
        window_done = true;
      }
    }
    // Without a window of its own the run is inside its caller's (Rounds).
    if (window == nullptr || window->open()) watch_.Sample();
    if (loop.running == 0) break;
    if (loop.measure_to != Clock::time_point::max() && now > loop.measure_to + kGrace &&
        !closed_connections) {
      for (auto& w : workers) w->conn.Close();
      closed_connections = true;
    }
    Clock::time_point next = now + kSampleEvery;
    if (window != nullptr && !window->open() && !window_done) {
      next = std::min(next, loop.measure_from);
    }
    if (window != nullptr && window->open()) next = std::min(next, loop.measure_to);
    timer.expires_at(next);
    // Cancelled when the last worker stops; the loop then sees running == 0.
    auto waited = co_await timer.async_wait(kNoThrow);
    (void)waited;
  }
  loop.wake = nullptr;
  if (loop.exhausted) result.exhausted = true;
}

asio::awaitable<void> Runner::Timed(int concurrency, double warmup_s, double duration_s,
                                    const Op& op, RunResult& result) {
  auto workers = MakeWorkers(concurrency);
  Loop loop;
  Clock::time_point now = Clock::now();
  loop.measure_from =
      now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  loop.measure_to = loop.measure_from + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(duration_s));
  loop.stop_at = loop.measure_to;
  loop.last_done = now;
  loop.running = concurrency;
  for (auto& w : workers) {
    asio::co_spawn(executor_, WorkerLoop(*w, op, loop, result), asio::detached);
  }
  Window window(watch_);
  co_await Supervise(loop, workers, &window, result);
}

asio::awaitable<void> Runner::Drain(int concurrency, const Op& op, RunResult& result) {
  auto workers = MakeWorkers(concurrency);
  Loop loop;
  loop.measure_from = Clock::now();
  loop.last_done = loop.measure_from;
  loop.running = concurrency;
  for (auto& w : workers) {
    asio::co_spawn(executor_, WorkerLoop(*w, op, loop, result), asio::detached);
  }
  Window window(watch_);
  co_await Supervise(loop, workers, &window, result);
}

asio::awaitable<void> Runner::Rounds(int parallel, int rounds, const Op& op, RunResult& result) {
  auto workers = MakeWorkers(parallel);
  Window window(watch_);
  window.Begin();
  // The rates count the rounds only, not the moments between them.
  double active = 0;
  for (int r = 0; r < rounds; ++r) {
    Loop loop;
    loop.measure_from = Clock::now();
    loop.last_done = loop.measure_from;
    loop.one_op = true;
    loop.running = parallel;
    for (auto& w : workers) {
      asio::co_spawn(executor_, WorkerLoop(*w, op, loop, result), asio::detached);
    }
    co_await Supervise(loop, workers, nullptr, result);
    active += Seconds(loop.last_done - loop.measure_from);
  }
  window.End(active, result);
}

asio::awaitable<void> Runner::Idle(double duration_s, RunResult& result) {
  Window window(watch_);
  window.Begin();
  asio::steady_timer timer(executor_);
  Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(duration_s));
  while (Clock::now() < end) {
    timer.expires_at(std::min(end, Clock::now() + kSampleEvery));
    auto waited = co_await timer.async_wait(kNoThrow);
    (void)waited;
    watch_.Sample();
  }
  window.End(duration_s, result);
}

}  // namespace gaze::bench
