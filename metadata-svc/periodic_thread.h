// A background thread that runs one round of work, then again at once when the round says
// more work is waiting, otherwise after an interval, until Stop(). The upload sweeper and the
// task re-drive are both built on it.
#pragma once

#include <functional>
#include <thread>

#include "absl/time/time.h"
#include "metadata-svc/stop_signal.h"

namespace gaze::metadata {

class PeriodicThread {
 public:
  // `round` returns true to run again without waiting.
  PeriodicThread(absl::Duration interval, std::function<bool()> round)
      : interval_(interval), round_(std::move(round)) {}
  ~PeriodicThread() { Stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // The first round runs at once.
  void Start() {
    thread_ = std::thread([this] {
      while (!stop_.stopped()) {
        if (!round_()) stop_.WaitFor(interval_);
      }
    });
  }

  // Wakes the thread from its wait and joins it (a round in progress finishes first).
  void Stop() {
    stop_.Stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  const absl::Duration interval_;
  const std::function<bool()> round_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace gaze::metadata
