#include "services/common/process_tuning.h"

#include <malloc.h>

#include <chrono>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace gaze {

void TuneProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  mallopt(M_ARENA_MAX, 2);
  // Detached: it holds nothing, and exiting the process ends it.
  std::thread([] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(10));
      malloc_trim(0);
    }
  }).detach();
}

}  // namespace gaze
