// PgImageRepository's import and restore calls: StartImport (POST /v2/images/{id}/import) and
// RestoreImage (glance-scrubber --restore). The task side of an import (claims, progress, its
// end) is PgTaskRepository's; the steps both share are in pg_task_tx.h.
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "metadata-svc/enums.h"
#include "metadata-svc/json_codec.h"
#include "metadata-svc/pg_image_repository.h"
#include "metadata-svc/pg_image_tx.h"
#include "metadata-svc/pg_quota.h"
#include "metadata-svc/pg_statements.h"
#include "metadata-svc/pg_task_tx.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

using Conn = pqxx::connection_base;

// The status `method` needs, in Glance's words (images.py import_image) when `image` is not in
// it. Staged data is what makes an uploading image ready for glance-direct.
absl::Status CheckImportStatus(v1::ImportMethod method, const v1::Image& image, bool staged) {
  const v1::ImageStatus status = image.status();
  if (status == v1::IMAGE_STATUS_ACTIVE && method != v1::IMPORT_METHOD_COPY_IMAGE) {
    return absl::FailedPreconditionError("Image with status active cannot be target for import");
  }
  switch (method) {
    case v1::IMPORT_METHOD_COPY_IMAGE:
      if (status != v1::IMAGE_STATUS_ACTIVE) {
        return absl::FailedPreconditionError(
            "Only images with status active can be targeted for copying");
      }
      // Gaze has one store: every active image is in all of them already.
      return absl::FailedPreconditionError("copy-image needs more than one store");
    case v1::IMPORT_METHOD_WEB_DOWNLOAD:
      if (status != v1::IMAGE_STATUS_QUEUED) {
        return absl::FailedPreconditionError(
            "Image needs to be in 'queued' state to use 'web-download' method");
      }
      return absl::OkStatus();
    default:  // glance-direct
      if (status != v1::IMAGE_STATUS_UPLOADING || !staged) {
        return absl::FailedPreconditionError(
            "Image needs to be staged before 'glance-direct' method can be used");
      }
      return absl::OkStatus();
  }
}

absl::Status CheckImportFormats(const v1::Image& image) {
  if (!image.has_container_format() || image.container_format().empty()) {
    return absl::FailedPreconditionError("'container_format' needs to be set before import");
  }
  if (!image.has_disk_format() || image.disk_format().empty()) {
    return absl::FailedPreconditionError("'disk_format' needs to be set before import");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StartedImport> PgImageRepository::StartImport(const v1::StartImportRequest& request,
                                                             const std::string& request_id) {
  const v1::ImportMethod method = request.method();
  if (method == v1::IMPORT_METHOD_UNSPECIFIED || ImportMethodName(method) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid import method: ", method));
  }
  if (method == v1::IMPORT_METHOD_GLANCE_DOWNLOAD) {
    return absl::UnimplementedError(
        "The glance-download import method is not supported yet: it needs the identity "
        "service to reach the other region.");
  }
  if (method == v1::IMPORT_METHOD_WEB_DOWNLOAD && request.uri().empty()) {
    return absl::InvalidArgumentError("web-download needs a uri");
  }
  if (!request.request_json().empty()) {
    if (absl::Status s = ValidateJsonObject(request.request_json(), "request_json"); !s.ok()) {
      return s;
    }
  }
  return pool_.Run<StartedImport>([&](Conn& c) -> absl::StatusOr<StartedImport> {
    pqxx::work tx(c);
    ImageInternals internals;
    auto image = LockForModify(tx, request.caller(), request.id(), &internals);
    if (!image.ok()) return image.status();
    const std::string& staging_url = internals.staging_url;
    if (absl::Status s = CheckImportStatus(method, *image, !staging_url.empty()); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckImportFormats(*image); !s.ok()) return s;

    StartedImport started;
    // The import lock: a live holder refuses the import; a finished, missing or long silent
    // one has lost it (Glance's expiry), and is failed so that its worker stops.
    if (auto lock = image->properties().find(stmt::kImportLockProperty);
        lock != image->properties().end()) {
      std::optional<LockedTask> holder;
      if (IsUuid(lock->second)) {
        auto locked = LockTask(tx, lock->second, "");
        if (!locked.ok()) return locked.status();
        holder = *std::move(locked);
      }
      const bool live = holder && (holder->task.status() == v1::TASK_STATUS_PENDING ||
                                   holder->task.status() == v1::TASK_STATUS_PROCESSING);
      if (live && !holder->lock_stale) {
        return absl::FailedPreconditionError("Image has active task");
      }
      if (live) {
        EndTask(tx, holder->task.id(), /*success=*/false, "Expired lock preempted", std::nullopt,
                lifecycle_.task_time_to_live);
        tx.exec_prepared0(stmt::kDeleteTaskOutbox, holder->task.id());
      }
      started.preempted_task_id = lock->second;
    }

    // Glance's quota checks of an import (contract §6.2 step 3, here before anything changes):
    // glance-direct adds the staged bytes to image_size_total; the other methods fetch into
    // staging first, so the image counts as uploading and its size (if known) as staged.
    if (image->has_owner()) {
      std::vector<QuotaDelta> deltas;
      if (method == v1::IMPORT_METHOD_GLANCE_DIRECT) {
        deltas = {{QuotaResource::kImageSizeTotal, image->size()}};
      } else {
        deltas = {{QuotaResource::kImageSizeTotal, 0},
                  {QuotaResource::kImageStageTotal, image->size()},
                  {QuotaResource::kImageCountUploading, 1}};
      }
      auto usage = EnforceQuota(tx, quotas_, image->owner(), deltas);
      if (!usage.ok()) return usage.status();
    }

    const std::string task_id = NewUuid();
    pqxx::result r = tx.exec_prepared(stmt::kStartImport, image->id(),
                                      ImageStatusName(image->status()), task_id);
    if (r.empty()) {  // cannot happen while the row is locked; kept as the compare-and-set
      return absl::AbortedError(absl::StrCat("Image ", image->id(), " changed concurrently"));
    }
    v1::ImportInput input;
    input.set_method(method);
    input.set_uri(request.uri());
    if (method == v1::IMPORT_METHOD_GLANCE_DIRECT) input.set_staging_url(staging_url);
    input.set_disk_format(image->disk_format());
    input.set_container_format(image->container_format());
    std::optional<std::string> glance_input;
    if (!request.request_json().empty()) glance_input = request.request_json();
    InsertTask(
        tx, task_id, v1::TASK_TYPE_IMPORT,
        {.image_id = image->id(),
         .owner = image->has_owner() ? std::optional<std::string>(image->owner()) : std::nullopt,
         .request_id = request_id,
         .user_id = request.caller().user_id()},
        ImportInputToJson(input), glance_input, absl::ZeroDuration());
    auto imported = DecodeFirst(r);
    if (!imported.ok()) return imported.status();
    started.response.set_task_id(task_id);
    *started.response.mutable_image() = *std::move(imported);
    tx.commit();
    return started;
  });
}

absl::StatusOr<RestoredImage> PgImageRepository::RestoreImage(
    const v1::RestoreImageRequest& request) {
  if (!request.caller().is_admin()) {
    return absl::PermissionDeniedError("Only an administrator can restore an image.");
  }
  return pool_.Run<RestoredImage>([&](Conn& c) -> absl::StatusOr<RestoredImage> {
    pqxx::work tx(c);
    ImageInternals internals;
    auto image = LockVisible(tx, request.caller(), request.id(), &internals);
    if (!image.ok()) return image.status();
    if (image->status() != v1::IMAGE_STATUS_PENDING_DELETE) {
      return absl::FailedPreconditionError(absl::StrCat("Image ", image->id(),
                                                        " is not pending delete; its status is ",
                                                        ImageStatusName(image->status()), "."));
    }
    const std::string& task_id = internals.pending_delete_task_id;
    // Only a delete that has not started can be called off: once a worker claimed the task,
    // the data may be partly gone. The task row lock orders this against that claim.
    std::optional<LockedTask> task;
    if (!task_id.empty()) {
      auto locked = LockTask(tx, task_id, "");
      if (!locked.ok()) return locked.status();
      task = *std::move(locked);
    }
    if (!task || task->task.status() != v1::TASK_STATUS_PENDING) {
      return absl::FailedPreconditionError(
          absl::StrCat("Image ", image->id(),
                       " cannot be restored: the deletion of its data has already started."));
    }
    EndTask(tx, task_id, /*success=*/false, "restored", std::nullopt, lifecycle_.task_time_to_live);
    tx.exec_prepared0(stmt::kDeleteTaskOutbox, task_id);
    pqxx::result r = tx.exec_prepared(stmt::kRestoreImage, image->id());
    if (r.empty()) {  // cannot happen while the row is locked; kept as the compare-and-set
      return absl::AbortedError(absl::StrCat("Image ", image->id(), " changed concurrently"));
    }
    RestoredImage restored;
    auto decoded = DecodeFirst(r);
    if (!decoded.ok()) return decoded.status();
    restored.image = *std::move(decoded);
    restored.cancelled_task_id = task_id;
    tx.commit();
    return restored;
  });
}

}  // namespace gaze::metadata
