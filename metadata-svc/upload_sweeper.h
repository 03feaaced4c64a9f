// The upload-lease sweeper: a background thread that, every interval, returns images whose
// uploader died (lease expired) to queued and queues the removal of their partial objects.
#pragma once

#include "absl/time/time.h"
#include "metadata-svc/image_repository.h"
#include "metadata-svc/periodic_thread.h"

namespace gaze::metadata {

class UploadSweeper {
 public:
  // Rows released per transaction; a full batch is followed by the next one at once.
  static constexpr int kBatch = 100;

  UploadSweeper(ImageRepository& repository, absl::Duration interval);

  void Start() { thread_.Start(); }
  void Stop() { thread_.Stop(); }

 private:
  // One transaction; true when the batch was full (more may be waiting).
  bool SweepOnce();

  ImageRepository& repository_;
  PeriodicThread thread_;  // last: stopped before the members its rounds use
};

}  // namespace gaze::metadata
