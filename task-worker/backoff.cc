#include "task-worker/backoff.h"

#include <algorithm>

namespace gaze::worker {

Backoff::Backoff(absl::Duration initial, absl::Duration max)
    : initial_(initial), max_(std::max(initial, max)), random_(std::random_device{}()) {}

absl::Duration Backoff::Next() {
  absl::Duration delay = initial_;
  for (int i = 0; i < attempt_ && delay < max_; ++i) delay *= 2;
  delay = std::min(delay, max_);
  // Stop counting once capped, so the counter cannot overflow however long an outage lasts.
  if (delay < max_) ++attempt_;
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return delay * jitter(random_);
}

}  // namespace gaze::worker
