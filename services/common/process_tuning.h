// Process-wide settings every Gaze service applies first thing in main().
#pragma once

namespace gaze {

// - Abseil's mutex deadlock detector off: Debian builds Abseil without NDEBUG, so every
//   absl::Mutex acquisition (gRPC takes several per call) updated a global lock graph under a
//   global lock; 4 % of metadata-svc's CPU under load.
// - At most two glibc malloc arenas: with an arena per busy thread (64 gRPC pollers in
//   metadata-svc, the gateway's I/O and hash threads) freed memory stayed spread over many
//   arenas after a load; measured idle after the bench suite: metadata-svc 47 -> 32 MB RSS,
//   api-gateway 34 -> 31 MB, show throughput unchanged (11.3k/s), thanks to per-thread caches.
// - Freed memory handed back to the system every 10 seconds (malloc_trim, on a thread of its
//   own): glibc returns only the top of the main arena by itself, so after 8 parallel uploads
//   the gateway stayed at 49 MB (41 MB anonymous) while idle.
void TuneProcess();

}  // namespace gaze
