// PgImageRepository (see pg_image_repository.h): images, uploads and status changes; members
// are in pg_image_members.cc. The SQL lives in pg_statements.cc and list_query.cc; the rules
// that need no database in image_rules.cc and quotas.cc.
#include "metadata-svc/pg_image_repository.h"

#include <functional>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "metadata-svc/enums.h"
#include "metadata-svc/image_rules.h"
#include "metadata-svc/json_codec.h"
#include "metadata-svc/pg_image_tx.h"
#include "metadata-svc/pg_quota.h"
#include "metadata-svc/pg_rows.h"
#include "metadata-svc/pg_statements.h"
#include "metadata-svc/pg_task_tx.h"
#include "metadata-svc/sql_params.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

using Conn = pqxx::connection_base;

std::optional<std::string> Opt(bool has, const std::string& value) {
  if (!has) return std::nullopt;
  return value;
}

std::string ToArray(const google::protobuf::RepeatedPtrField<std::string>& values) {
  return PgArrayLiteral(std::vector<std::string>(values.begin(), values.end()));
}

absl::Status ValidateLease(int32_t seconds) {
  if (seconds <= 0) return absl::InvalidArgumentError("lease_seconds must be positive");
  return absl::OkStatus();
}

std::optional<std::string> OwnerOf(const v1::Image& image) {
  return Opt(image.has_owner(), image.owner());
}

// The name under which a plan-cacheable list statement is prepared on every connection, or ""
// when it is not to be prepared. Planning the UNION of visibility branches took 0.4 ms of the
// 0.5 ms a default page costs PostgreSQL; a prepared statement is planned a few times and then
// runs its generic plan. The number of statement shapes is bounded (at most
// kMaxPreparedListStatements, first come first served; later shapes run unprepared), so no
// client can make the server backends accumulate plans. The name is a hash of the SQL text:
// pqxx's prepare() ignores a second definition of a name with the same text.
constexpr size_t kMaxPreparedListStatements = 64;

std::string ListStatementName(const std::string& sql) {
  static std::mutex mu;
  static auto* admitted = new std::unordered_set<std::string>();
  std::string name =
      absl::StrCat("list_", absl::Hex(std::hash<std::string>{}(sql)), "_", sql.size());
  std::lock_guard<std::mutex> lock(mu);
  if (admitted->contains(name)) return name;
  if (admitted->size() >= kMaxPreparedListStatements) return "";
  admitted->insert(name);
  return name;
}

}  // namespace

PgImageRepository::PgImageRepository(PgPool& pool, ListLimits limits, ImageLimits image_limits,
                                     ProjectQuotas quotas, LifecycleOptions lifecycle)
    : pool_(pool),
      limits_(limits),
      image_limits_(image_limits),
      quotas_(std::move(quotas)),
      lifecycle_(lifecycle) {}

absl::StatusOr<v1::Image> PgImageRepository::CreateImage(const v1::CreateImageRequest& request) {
  auto image = NewImage(request);
  if (!image.ok()) return image.status();
  const v1::Image& m = *image;
  return pool_.Run<v1::Image>([&](Conn& c) -> absl::StatusOr<v1::Image> {
    pqxx::work tx(c);
    if (absl::Status s = CheckImageLimits(image_limits_, nullptr, m); !s.ok()) return s;
    if (m.has_owner()) {
      auto usage = EnforceQuota(tx, quotas_, m.owner(), {{QuotaResource::kImageCountTotal, 1}});
      if (!usage.ok()) return usage.status();
    }
    pqxx::result r =
        tx.exec_prepared(stmt::kInsertImage, m.id(), Opt(m.has_name(), m.name()),
                         VisibilityName(m.visibility()), m.protected_(), m.os_hidden(),
                         Opt(m.has_owner(), m.owner()), Opt(m.has_disk_format(), m.disk_format()),
                         Opt(m.has_container_format(), m.container_format()), m.min_ram(),
                         m.min_disk(), ToArray(m.tags()), PropertiesToJson(m.properties()));
    if (r.empty()) {
      return absl::AlreadyExistsError(
          absl::StrCat("Image with identifier ", m.id(), " already exists!"));
    }
    auto created = DecodeFirst(r);
    if (created.ok()) tx.commit();
    return created;
  });
}

absl::StatusOr<v1::Image> PgImageRepository::GetImage(const v1::GetImageRequest& request) {
  return pool_.Run<v1::Image>([&](Conn& c) -> absl::StatusOr<v1::Image> {
    // One statement: no BEGIN / ROLLBACK round trips around it (see ListImages).
    pqxx::nontransaction tx(c);
    return ReadVisible(tx, request.caller(), request.id());
  });
}

absl::StatusOr<v1::ListImagesResponse> PgImageRepository::ListImages(
    const v1::ListImagesRequest& request) {
  using Response = v1::ListImagesResponse;
  return pool_.Run<Response>([&](Conn& c) -> absl::StatusOr<Response> {
    // Reads only, at READ COMMITTED, where every statement takes its own snapshot anyway: a
    // transaction would add nothing but two round trips (BEGIN; SET TRANSACTION READ ONLY
    // and ROLLBACK) to each call.
    pqxx::nontransaction tx(c);
    const v1::ImageFilter& filter = request.filter();
    ListPlanHints hints;
    if (filter.tags_size() == 1 && common_tags_.IsCommon(tx, filter.tags(0))) {
      hints.common_tag_literal = tx.quote(filter.tags(0));
    }
    auto query = BuildListQuery(request, limits_, kImageColumns, hints);
    if (!query.ok()) return query.status();
    const std::string statement = query->plan_cacheable ? ListStatementName(query->sql) : "";
    pqxx::result r;
    if (statement.empty()) {
      r = tx.exec_params(query->sql, pqxx::prepare::make_dynamic_params(query->params));
    } else {
      c.prepare(statement, query->sql);  // a no-op once this connection has it
      r = tx.exec_prepared(statement, pqxx::prepare::make_dynamic_params(query->params));
    }
    if (r.empty() && !request.marker().empty()) {  // the end of the list, or a bad marker
      pqxx::result m = tx.exec_prepared(stmt::kMarkerVisible, request.marker(),
                                        request.caller().is_admin(), request.caller().project_id());
      if (m.empty()) return absl::InvalidArgumentError("marker not found");
      if (!m[0][0].as<bool>()) {
        return absl::PermissionDeniedError(
            absl::StrCat("Forbidding request, image ", request.marker(), " not visible"));
      }
    }
    Response response;
    for (const pqxx::row& row : r) {
      if (absl::Status s = DecodeImage(row, 0, response.add_images()); !s.ok()) return s;
    }
    response.set_page_full(static_cast<int>(r.size()) == query->limit);
    return response;
  });
}

absl::StatusOr<v1::Image> PgImageRepository::UpdateImage(const v1::UpdateImageRequest& request) {
  if (absl::Status s = ValidateUpdateMask(request); !s.ok()) return s;
  // Writes the update of `current` unless the row has changed since it was read (the
  // compare-and-set on version): the updated image, or nullopt when it had changed.
  auto write = [&](pqxx::transaction_base& tx,
                   const v1::Image& current) -> absl::StatusOr<std::optional<v1::Image>> {
    if (absl::Status s = CheckMayModify(request.caller(), current); !s.ok()) return s;
    auto next = ApplyUpdate(request, current);
    if (!next.ok()) return next.status();
    const v1::Image& m = *next;
    if (absl::Status s = CheckImageLimits(image_limits_, &current, m); !s.ok()) return s;
    pqxx::result r = tx.exec_prepared(
        stmt::kUpdateImage, m.id(), Opt(m.has_name(), m.name()), VisibilityName(m.visibility()),
        m.protected_(), m.os_hidden(), Opt(m.has_owner(), m.owner()),
        Opt(m.has_disk_format(), m.disk_format()),
        Opt(m.has_container_format(), m.container_format()), m.min_ram(), m.min_disk(),
        ToArray(m.tags()), PropertiesToJson(m.properties()), current.version());
    if (r.empty()) return std::nullopt;
    return DecodeFirst(r);
  };
  auto optimistic =
      pool_.Run<std::optional<v1::Image>>([&](Conn& c) -> absl::StatusOr<std::optional<v1::Image>> {
        // First without a transaction: read, then write if nothing changed in between. Two
        // statements, where BEGIN, SELECT ... FOR UPDATE, UPDATE and COMMIT were four round
        // trips, most of a PATCH's time in PostgreSQL.
        pqxx::nontransaction tx(c);
        auto current = ReadVisible(tx, request.caller(), request.id());
        if (!current.ok()) return current.status();
        return write(tx, *current);
      });
  if (!optimistic.ok()) return optimistic.status();
  if (optimistic->has_value()) return **std::move(optimistic);
  // The image changed between the read and the write: under contention, queue on its lock.
  return pool_.Run<v1::Image>([&](Conn& c) -> absl::StatusOr<v1::Image> {
    pqxx::work tx(c);
    auto current = LockVisible(tx, request.caller(), request.id());
    if (!current.ok()) return current.status();
    auto updated = write(tx, *current);
    if (!updated.ok()) return updated.status();
    if (!updated->has_value()) {  // cannot happen while the row is locked
      return absl::AbortedError(absl::StrCat("Image ", request.id(), " changed concurrently"));
    }
    tx.commit();
    return **std::move(updated);
  });
}

absl::StatusOr<DeletedImage> PgImageRepository::DeleteImage(const v1::DeleteImageRequest& request,
                                                            const std::string& request_id) {
  return pool_.Run<DeletedImage>([&](Conn& c) -> absl::StatusOr<DeletedImage> {
    pqxx::work tx(c);
    ImageInternals internals;
    auto image = LockForModify(tx, request.caller(), request.id(), &internals);
    if (!image.ok()) return image.status();
    if (image->protected_()) {
      return absl::PermissionDeniedError(
          absl::StrCat("Image ", image->id(), " is protected and cannot be deleted."));
    }
    const std::string& staging_url = internals.staging_url;
    DeletedImage deleted;
    deleted.status = v1::IMAGE_STATUS_DELETED;
    auto tombstone = [&] { tx.exec_prepared0(stmt::kDeleteImage, image->id()); };
    if (image->status() == v1::IMAGE_STATUS_PENDING_DELETE) {
      // An admin deleting an image that awaits the delayed delete ends the wait of the image,
      // not of its data: the pending delete_data task still runs when its delay is over.
      tombstone();
      deleted.response.set_task_id(internals.pending_delete_task_id);
      tx.commit();
      return deleted;
    }
    // An upload in flight keeps its object and upload_* columns: the uploader owns them until
    // it finishes (CompleteUpload then fails) or its lease expires (the sweeper cleans up).
    // Likewise an import owns the staged data it consumes and deletes it when it ends; staged
    // data waiting for an import goes with the image.
    std::vector<std::string> urls;
    for (const v1::Location& loc : image->locations()) urls.push_back(loc.url());
    if (!staging_url.empty() && image->status() != v1::IMAGE_STATUS_IMPORTING) {
      urls.push_back(staging_url);
    }
    TaskOrigin origin{.image_id = image->id(),
                      .owner = OwnerOf(*image),
                      .request_id = request_id,
                      .user_id = request.caller().user_id()};
    if (lifecycle_.delayed_delete > absl::ZeroDuration() && image->locations_size() > 0) {
      // Glance's delayed delete: the image waits in pending_delete (invisible to everyone but
      // admins) until its data is deleted, and can be restored until then.
      std::string task_id = InsertDeleteDataTask(tx, origin, urls, lifecycle_.delayed_delete);
      tx.exec_prepared0(stmt::kPendingDeleteImage, image->id(), task_id);
      deleted.response.set_task_id(task_id);
      deleted.status = v1::IMAGE_STATUS_PENDING_DELETE;
    } else {
      tombstone();
      if (!urls.empty()) deleted.response.set_task_id(InsertDeleteDataTask(tx, origin, urls));
    }
    tx.commit();
    return deleted;
  });
}

absl::StatusOr<v1::BeginUploadResponse> PgImageRepository::BeginUpload(
    const v1::BeginUploadRequest& request) {
  if (request.upload_id().empty() || request.object_url().empty()) {
    return absl::InvalidArgumentError("upload_id and object_url are required");
  }
  if (absl::Status s = ValidateLease(request.lease_seconds()); !s.ok()) return s;
  if (request.declared_size() < 0) {
    return absl::InvalidArgumentError("declared_size must be non-negative");
  }
  if (!v1::UploadTarget_IsValid(request.target())) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid upload target: ", request.target()));
  }
  // Staging (PUT /stage) fills the staging area, not the image: the formats are not needed yet,
  // and the bytes count against image_stage_total instead of image_size_total.
  const bool staging = request.target() == v1::UPLOAD_TARGET_STAGING;
  const char* target_status = staging ? "uploading" : "saving";
  const QuotaResource size_quota =
      staging ? QuotaResource::kImageStageTotal : QuotaResource::kImageSizeTotal;
  using Response = v1::BeginUploadResponse;
  return pool_.Run<Response>([&](Conn& c) -> absl::StatusOr<Response> {
    pqxx::work tx(c);
    auto image = LockForModify(tx, request.caller(), request.id());
    if (!image.ok()) return image.status();
    if (!staging && (!image->has_disk_format() || !image->has_container_format())) {
      return absl::InvalidArgumentError(
          "Properties disk_format, container_format must be set prior to saving data.");
    }
    auto transition_error = [&] {
      return absl::FailedPreconditionError(absl::StrCat("Image status transition from ",
                                                        ImageStatusName(image->status()), " to ",
                                                        target_status, " is not allowed"));
    };
    // Also refuses a second staging: the image is uploading once data is staged.
    if (image->status() != v1::IMAGE_STATUS_QUEUED) return transition_error();
    // The image entering saving or uploading counts as uploading; its size as declared (if at
    // all) counts against the size quota. CompleteUpload checks the real size.
    std::optional<ProjectUsage> usage;
    if (image->has_owner()) {
      auto enforced = EnforceQuota(
          tx, quotas_, image->owner(),
          {{QuotaResource::kImageCountUploading, 1}, {size_quota, request.declared_size()}});
      if (!enforced.ok()) return enforced.status();
      usage = *enforced;
    }
    pqxx::result r =
        tx.exec_prepared(stmt::kBeginUpload, image->id(), request.upload_id(), request.object_url(),
                         request.holder(), request.lease_seconds(), target_status);
    if (r.empty()) return transition_error();
    Response response;
    if (absl::Status s = DecodeImage(r[0], 0, response.mutable_image()); !s.ok()) return s;
    SetTimestamp(r[0][kImageColumnCount].as<int64_t>(), response.mutable_lease_expires_at());
    if (usage) {
      if (auto remaining = quotas_.RemainingBytes(image->owner(), size_quota, *usage)) {
        response.set_remaining_bytes(*remaining);
      }
    }
    tx.commit();
    return response;
  });
}

absl::StatusOr<v1::RenewUploadResponse> PgImageRepository::RenewUpload(
    const v1::RenewUploadRequest& request) {
  if (absl::Status s = ValidateLease(request.lease_seconds()); !s.ok()) return s;
  auto not_held = [&] {
    return absl::FailedPreconditionError(absl::StrCat("Upload ", request.upload_id(), " of image ",
                                                      request.id(), " is no longer in progress."));
  };
  if (!IsUuid(request.id())) return not_held();
  using Response = v1::RenewUploadResponse;
  return pool_.Run<Response>([&](Conn& c) -> absl::StatusOr<Response> {
    pqxx::work tx(c);
    pqxx::result r = tx.exec_prepared(stmt::kRenewUpload, request.id(), request.upload_id(),
                                      request.lease_seconds());
    if (r.empty()) return not_held();
    Response response;
    SetTimestamp(r[0][0].as<int64_t>(), response.mutable_lease_expires_at());
    tx.commit();
    return response;
  });
}

absl::StatusOr<v1::Image> PgImageRepository::CompleteUpload(
    const v1::CompleteUploadRequest& request) {
  if (request.location().url().empty()) {
    return absl::InvalidArgumentError("location.url is required");
  }
  if (request.size() < 0 || request.virtual_size() < 0) {
    return absl::InvalidArgumentError("size and virtual_size must be non-negative");
  }
  auto gone = [&] {
    return absl::FailedPreconditionError(
        absl::StrCat("Image ", request.id(),
                     " could not be found after upload. The image may have been deleted during "
                     "the upload."));
  };
  if (!IsUuid(request.id())) return gone();
  return pool_.Run<v1::Image>([&](Conn& c) -> absl::StatusOr<v1::Image> {
    pqxx::work tx(c);
    // The real size is checked against image_size_total (image_stage_total for staging) under
    // the project's quota lock; over the limit, nothing changes and the uploader aborts and
    // removes its bytes.
    pqxx::result upload = tx.exec_prepared(stmt::kLockUpload, request.id(), request.upload_id());
    if (upload.empty()) return gone();
    const bool staging = upload[0][1].as<std::string>() == "uploading";
    if (!upload[0][0].is_null()) {
      auto usage =
          EnforceQuota(tx, quotas_, upload[0][0].as<std::string>(),
                       {{staging ? QuotaResource::kImageStageTotal : QuotaResource::kImageSizeTotal,
                         request.size()}});
      if (!usage.ok()) return usage.status();
    }
    if (staging) {
      // The staged object and its size; the image stays uploading until an import takes it.
      // Checksums are the import's business: it may convert the data.
      pqxx::result r = tx.exec_prepared(stmt::kCompleteStaging, request.id(), request.upload_id(),
                                        request.size(), request.location().url());
      if (r.empty()) return gone();
      auto image = DecodeFirst(r);
      if (image.ok()) tx.commit();
      return image;
    }
    std::optional<int64_t> virtual_size;
    if (request.has_virtual_size()) virtual_size = request.virtual_size();
    pqxx::result r =
        tx.exec_prepared(stmt::kCompleteUpload, request.id(), request.upload_id(), request.size(),
                         request.checksum(), request.os_hash_algo(), request.os_hash_value(),
                         virtual_size, LocationToJson(request.location()));
    if (r.empty()) return gone();
    auto image = DecodeFirst(r);
    if (image.ok()) tx.commit();
    return image;
  });
}

absl::StatusOr<bool> PgImageRepository::AbortUpload(const v1::AbortUploadRequest& request) {
  if (!IsUuid(request.id())) return false;
  return pool_.Run<bool>([&](Conn& c) -> absl::StatusOr<bool> {
    pqxx::work tx(c);
    pqxx::result r = tx.exec_prepared(stmt::kReleaseUpload, request.id(), request.upload_id());
    tx.commit();
    return !r.empty();
  });
}

absl::StatusOr<std::vector<ReleasedUpload>> PgImageRepository::SweepExpiredUploads(int limit) {
  using Released = std::vector<ReleasedUpload>;
  return pool_.Run<Released>([&](Conn& c) -> absl::StatusOr<Released> {
    pqxx::work tx(c);
    Released released;
    for (const pqxx::row& row : tx.exec_prepared(stmt::kExpiredUploads, limit)) {
      ReleasedUpload u;
      u.image_id = row[0].as<std::string>();
      u.upload_id = row[1].as<std::string>();
      u.object_url = row[2].as<std::string>();
      u.holder = row[3].as<std::string>();
      pqxx::result after = tx.exec_prepared(stmt::kReleaseUpload, u.image_id, u.upload_id);
      u.status_after = after[0][0].as<std::string>();
      if (!u.object_url.empty()) {
        u.request_id = NewRequestId();
        // A background job: no user caused it.
        TaskOrigin origin{.image_id = u.image_id,
                          .owner = std::nullopt,
                          .request_id = u.request_id,
                          .user_id = ""};
        if (!row[4].is_null()) origin.owner = row[4].as<std::string>();
        u.task_id = InsertDeleteDataTask(tx, origin, {u.object_url});
      }
      released.push_back(std::move(u));
    }
    tx.commit();
    return released;
  });
}

absl::StatusOr<v1::Image> PgImageRepository::ChangeImageStatus(
    const v1::ChangeImageStatusRequest& request) {
  return pool_.Run<v1::Image>([&](Conn& c) -> absl::StatusOr<v1::Image> {
    pqxx::work tx(c);
    auto image = LockForModify(tx, request.caller(), request.id());
    if (!image.ok()) return image.status();
    auto next = StatusAfter(request.action(), image->status());
    if (!next.ok()) return next.status();
    if (*next == image->status()) return image;
    pqxx::result r = tx.exec_prepared(stmt::kChangeImageStatus, image->id(),
                                      ImageStatusName(image->status()), ImageStatusName(*next));
    if (r.empty()) {  // cannot happen while the row is locked; kept as the compare-and-set
      return absl::AbortedError(absl::StrCat("Image ", image->id(), " changed concurrently"));
    }
    auto changed = DecodeFirst(r);
    if (changed.ok()) tx.commit();
    return changed;
  });
}

absl::StatusOr<v1::GetUsageResponse> PgImageRepository::GetUsage(
    const v1::GetUsageRequest& request) {
  using Response = v1::GetUsageResponse;
  const std::string& project = request.caller().project_id();
  if (quotas_.Report(project, {}).empty()) return Response();  // nothing limited to count
  return pool_.Run<Response>([&](Conn& c) -> absl::StatusOr<Response> {
    pqxx::read_transaction tx(c);
    Response response;
    for (v1::QuotaUsage& u : quotas_.Report(project, ReadUsage(tx, project))) {
      *response.add_usage() = std::move(u);
    }
    return response;
  });
}

}  // namespace gaze::metadata
