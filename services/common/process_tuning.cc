#include "services/common/process_tuning.h"

#include <malloc.h>

#include "absl/synchronization/mutex.h"

namespace gaze {

void TuneProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  mallopt(M_ARENA_MAX, 2);
}

}  // namespace gaze
