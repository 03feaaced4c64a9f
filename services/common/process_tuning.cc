#include "services/common/process_tuning.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace gaze {

void TuneProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  mallopt(M_ARENA_MAX, 2);
  // Detached: it holds nothing, and exiting the process ends it. It is created with every
  // signal blocked (and keeps them so), so that SIGTERM and friends still reach the threads
  // the services wait for them on, not this one and its default action.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  std::thread([] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(10));
      malloc_trim(0);
    }
  }).detach();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace gaze
