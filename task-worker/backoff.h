// Capped exponential back-off with jitter, for reconnects and for retries of a task that
// failed transiently. Jitter keeps a fleet of workers that lost the same dependency at the
// same moment from coming back in lock-step.
#pragma once

#include <random>

#include "absl/time/time.h"

namespace gaze::worker {

class Backoff {
 public:
  // The n-th delay (n from 0) is drawn uniformly from [d/2, d], d = min(initial * 2^n, max).
  Backoff(absl::Duration initial, absl::Duration max);

  absl::Duration Next();
  // After a success: the next delay starts from `initial` again.
  void Reset() { attempt_ = 0; }

 private:
  absl::Duration initial_;
  absl::Duration max_;
  int attempt_ = 0;
  std::mt19937_64 random_;
};

}  // namespace gaze::worker
