#include "task-worker/lease_keeper.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "gaze/metadata/v1/metadata.pb.h"
#include "services/common/log.h"

namespace gaze::worker {
namespace {

namespace mv1 = ::gaze::metadata::v1;

absl::Duration Interval(const LeaseKeeper::Options& options) {
  return std::max(absl::Milliseconds(1),
                  std::min(options.interval, absl::Seconds(options.lease_seconds) / 3));
}

}  // namespace

LeaseKeeper::LeaseKeeper(TaskService& tasks, Options options)
    : tasks_(tasks),
      options_(std::move(options)),
      interval_(Interval(options_)),
      retry_(std::max(absl::Milliseconds(1), interval_ / 10), interval_),
      thread_([this] { Loop(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    absl::MutexLock lock(&mu_);
    exiting_ = true;
  }
  thread_.join();
}

void LeaseKeeper::StartStage(std::string stage, std::string verb,
                             std::optional<uint64_t> bytes_total) {
  {
    absl::MutexLock lock(&mu_);
    stage_ = std::move(stage);
    verb_ = std::move(verb);
    counts_bytes_ = bytes_total.has_value();
    bytes_total_ = bytes_total.value_or(0);
    bytes_done_ = 0;
  }
  Renew();
}

void LeaseKeeper::SetBytesDone(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  bytes_done_ = bytes;
}

void LeaseKeeper::SetBytesTotal(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  bytes_total_ = bytes;
}

void LeaseKeeper::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        if (exiting_) return;
        if (absl::Now() >= next_) break;
        // Wakes early when a stage's renewal moved the schedule.
        const absl::Time waiting_for = next_;
        auto changed = [this, waiting_for]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return exiting_ || next_ != waiting_for;
        };
        mu_.AwaitWithDeadline(absl::Condition(&changed), waiting_for);
      }
    }
    Renew();
  }
}

void LeaseKeeper::Renew() {
  absl::MutexLock serial(&renew_mu_);
  if (stop_.stop_requested()) return;
  mv1::RenewTaskRequest request;
  request.set_task_id(options_.task_id);
  request.set_worker_id(options_.worker_id);
  request.set_lease_seconds(options_.lease_seconds);
  {
    absl::MutexLock lock(&mu_);
    request.mutable_progress()->set_stage(stage_);
    request.mutable_progress()->set_bytes_done(static_cast<int64_t>(bytes_done_));
    request.mutable_progress()->set_bytes_total(static_cast<int64_t>(bytes_total_));
    request.set_message(counts_bytes_ ? absl::StrCat(verb_, " ", bytes_done_ >> 20, " MiB")
                                      : verb_);
  }
  const absl::Status renewed = tasks_.RenewTask(request, options_.request_id);
  const bool lost = renewed.code() == absl::StatusCode::kFailedPrecondition ||
                    renewed.code() == absl::StatusCode::kNotFound;
  if (!renewed.ok()) {
    (lost ? log::Warning("lost the task's lease; stopping its work")
          : log::Warning("cannot renew the task's lease; will retry"))
        .RequestId(options_.request_id)
        .Field("task_id", options_.task_id)
        .Field("error", renewed.ToString());
  }
  if (lost) stop_.request_stop();
  absl::MutexLock lock(&mu_);
  if (lost) {
    next_ = absl::InfiniteFuture();
  } else if (renewed.ok()) {
    retry_.Reset();
    next_ = absl::Now() + interval_;
  } else {
    next_ = absl::Now() + retry_.Next();
  }
}

}  // namespace gaze::worker
