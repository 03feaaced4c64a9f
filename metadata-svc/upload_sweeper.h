// The upload-lease sweeper: a background thread that, every interval, returns images whose
// uploader died (lease expired) to queued and queues the removal of their partial objects.
#pragma once

#include <thread>

#include "absl/time/time.h"
#include "metadata-svc/image_repository.h"
#include "metadata-svc/stop_signal.h"

namespace gaze::metadata {

class UploadSweeper {
 public:
  // Rows released per transaction; a full batch is followed by the next one at once.
  static constexpr int kBatch = 100;

  UploadSweeper(ImageRepository& repository, absl::Duration interval);
  ~UploadSweeper();  // Stop()s
  UploadSweeper(const UploadSweeper&) = delete;
  UploadSweeper& operator=(const UploadSweeper&) = delete;

  void Start();
  void Stop();

 private:
  void Loop();

  ImageRepository& repository_;
  const absl::Duration interval_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace gaze::metadata
