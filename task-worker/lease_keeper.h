// Keeps a claimed task's lease alive while the task runs, and shows the owner how far it got.
//
// TaskService.RenewTask is called at the start of each stage (by the caller, before the stage
// begins) and then every `interval` from a thread of its own (at most a third of the lease,
// so two renewals may fail before it runs out), with the stage, bytes done and total, and a
// Glance-style message ("Copied 12 MiB"). The work itself may block for minutes in qemu-img or
// on a slow download; the lease is kept regardless.
//
// When metadata-svc answers that the lease is no longer ours (FAILED_PRECONDITION, NOT_FOUND:
// the lease expired and another worker took the task over, or the task is gone), the keeper
// requests a stop on stop_token() at once; the work watches that token and gives up. A renewal
// that fails otherwise (metadata-svc unreachable) is retried, and the work goes on: only
// metadata-svc can tell whether someone else took over, and finishing is a compare-and-set on
// the lease holder, so carrying on is never unsafe — at worst the work is wasted.
#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "task-worker/backoff.h"
#include "task-worker/task_service.h"

namespace gaze::worker {

class LeaseKeeper {
 public:
  struct Options {
    std::string task_id;
    std::string worker_id;
    std::string request_id;
    int lease_seconds = 300;
    // Between two renewals; capped at a third of the lease.
    absl::Duration interval = absl::Seconds(10);
  };

  // Starts the renewal thread; the first renewal comes with the first stage.
  LeaseKeeper(TaskService& tasks, Options options);
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;
  // Stops the thread (a renewal in flight is waited for).
  ~LeaseKeeper();

  // Enters a stage and renews with it before returning. `verb` (e.g. "Copied") makes the message
  // "<verb> <N> MiB" when `bytes_total` is set (0: unknown); without it the message is `verb`.
  void StartStage(std::string stage, std::string verb, std::optional<uint64_t> bytes_total);
  // Bytes done in the current stage; reported with the next renewal.
  void SetBytesDone(uint64_t bytes);
  void SetBytesTotal(uint64_t bytes);

  // Requested when the lease is lost.
  std::stop_token stop_token() const { return stop_.get_token(); }
  bool lost() const { return stop_.stop_requested(); }

 private:
  // Renews on schedule until the destructor.
  void Loop();
  // One RenewTask call with the current progress; schedules the next one.
  void Renew() ABSL_LOCKS_EXCLUDED(renew_mu_, mu_);

  TaskService& tasks_;
  const Options options_;
  const absl::Duration interval_;
  std::stop_source stop_;

  // Taken before mu_: renewals go out one at a time, in order.
  absl::Mutex renew_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::string stage_ ABSL_GUARDED_BY(mu_);
  std::string verb_ ABSL_GUARDED_BY(mu_);
  bool counts_bytes_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t bytes_done_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_total_ ABSL_GUARDED_BY(mu_) = 0;
  // When the thread renews next: never before the first stage or after the lease is lost.
  absl::Time next_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // Transient failures are retried sooner than the interval, so that a short outage of
  // metadata-svc does not eat into the lease.
  Backoff retry_ ABSL_GUARDED_BY(mu_);
  bool exiting_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;  // last: starts after everything above is initialised
};

}  // namespace gaze::worker
