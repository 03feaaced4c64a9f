// How gaze-bench drives a workload and what it records. Three shapes:
//  * Timed: a closed loop on N keep-alive connections for a warm-up, then a measured window;
//    operations that complete inside the window count (metadata operations).
//  * Rounds: R rounds of P concurrent operations, all measured (image data transfers).
//  * Drain: N connections run until the operation reports that no work is left (seeding and
//    other preparation), all measured.
// Around every measured window it reads the generator's own CPU, the machine's busy CPU and
// the watched server processes (ProcWatch).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/http_client.h"
#include "bench/proc_stats.h"
#include "bench/stats.h"

namespace gaze::bench {

// Status of an operation whose response had the expected status but not the expected body
// (a create without an id, a short download).
inline constexpr int kBadBody = -2;
// An import that the image's status says failed (back to queued, or os_glance_failed_import),
// and one that did not finish within the workload's timeout.
inline constexpr int kImportFailed = -3;
inline constexpr int kImportTimeout = -4;

struct OpOutcome {
  int status = 0;        // HTTP status, kTransportError or kBadBody
  bool ok = false;       // the operation got the response it expects
  uint64_t bytes = 0;    // image bytes moved
  int kind = 0;          // which of the run's operation kinds it was (the mixed workload)
  bool no_work = false;  // nothing was left to do: not an operation, the worker stops
};

// One connection and the state of the coroutine that drives it.
struct Worker {
  Worker(boost::asio::any_io_executor executor, ClientConfig& config, int index);

  int index;
  uint64_t ops = 0;  // operations this worker has completed in the current run
  HttpConnection conn;
  std::mt19937_64 rng;  // seeded from the index: runs are repeatable
  HttpResponse response;
  std::string target;  // request targets and bodies are built here: they outlive the exchange
  std::string body;
  std::string state;  // what a workload carries from one operation to the next (a next link)
};

using Op = std::function<boost::asio::awaitable<OpOutcome>(Worker&)>;

struct KindStats {
  std::string name;
  LatencySamples latency;
  std::map<std::string, uint64_t> errors;  // by status: "404", "io", "bad_body"
  uint64_t bytes = 0;
};

struct RunResult {
  explicit RunResult(std::vector<std::string> kind_names);

  std::vector<KindStats> kinds;
  double window_s = 0;
  double client_cpu_s = 0;
  double machine_busy_cores = 0;
  boost::json::object servers;
  bool exhausted = false;  // the workers ran out of work before the window ended
  std::string first_error;

  // ops, ops_per_s, latency_ms, errors, MB_per_s (when bytes moved), client and server CPU,
  // and a per-kind breakdown when there is more than one kind.
  boost::json::object Report() const;
};

class Runner {
 public:
  Runner(boost::asio::any_io_executor executor, ClientConfig& config, ProcWatch& watch);

  boost::asio::awaitable<void> Timed(int concurrency, double warmup_s, double duration_s,
                                     const Op& op, RunResult& result);
  boost::asio::awaitable<void> Rounds(int parallel, int rounds, const Op& op, RunResult& result);
  boost::asio::awaitable<void> Drain(int concurrency, const Op& op, RunResult& result);
  // A window in which the generator sends nothing: the servers' idle CPU and memory.
  boost::asio::awaitable<void> Idle(double duration_s, RunResult& result);

 private:
  using Clock = std::chrono::steady_clock;
  struct Loop;
  class Window;

  boost::asio::awaitable<void> WorkerLoop(Worker& worker, const Op& op, Loop& loop,
                                          RunResult& result);
  // Waits until every worker of `loop` has stopped, opening and closing `window` (if any) at
  // the loop's times and sampling the servers' memory in between.
  boost::asio::awaitable<void> Supervise(Loop& loop, std::vector<std::unique_ptr<Worker>>& workers,
                                         Window* window, RunResult& result);
  std::vector<std::unique_ptr<Worker>> MakeWorkers(int n);

  boost::asio::any_io_executor executor_;
  ClientConfig& config_;
  ProcWatch& watch_;
};

}  // namespace gaze::bench
