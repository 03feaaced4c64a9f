// UploadSweeper (see upload_sweeper.h).
#include "metadata-svc/upload_sweeper.h"

#include "services/common/log.h"

namespace gaze::metadata {

UploadSweeper::UploadSweeper(ImageRepository& repository, absl::Duration interval)
    : repository_(repository), interval_(interval) {}

UploadSweeper::~UploadSweeper() { Stop(); }

void UploadSweeper::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void UploadSweeper::Stop() {
  stop_.Stop();
  if (thread_.joinable()) thread_.join();
}

void UploadSweeper::Loop() {
  while (!stop_.stopped()) {
    auto released = repository_.SweepExpiredUploads(kBatch);
    if (!released.ok()) {
      log::Warning("upload sweep failed").Field("error", released.status().ToString());
    } else {
      for (const ReleasedUpload& u : *released) {
        log::Info("expired upload released")
            .RequestId(u.request_id)
            .Field("image_id", u.image_id)
            .Field("upload_id", u.upload_id)
            .Field("holder", u.holder)
            .Field("status", u.status_after)
            .Field("object_url", u.object_url)
            .Field("task_id", u.task_id);
      }
      if (released->size() == static_cast<size_t>(kBatch)) continue;
    }
    stop_.WaitFor(interval_);
  }
}

}  // namespace gaze::metadata
