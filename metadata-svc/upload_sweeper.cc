// UploadSweeper (see upload_sweeper.h).
#include "metadata-svc/upload_sweeper.h"

#include "services/common/log.h"

namespace gaze::metadata {

UploadSweeper::UploadSweeper(ImageRepository& repository, absl::Duration interval)
    : repository_(repository), thread_(interval, [this] { return SweepOnce(); }) {}

bool UploadSweeper::SweepOnce() {
  auto released = repository_.SweepExpiredUploads(kBatch);
  if (!released.ok()) {
    log::Warning("upload sweep failed").Field("error", released.status().ToString());
    return false;
  }
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
  return released->size() == static_cast<size_t>(kBatch);
}

}  // namespace gaze::metadata
