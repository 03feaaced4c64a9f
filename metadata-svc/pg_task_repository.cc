// PgTaskRepository (see pg_task_repository.h). A call that may change the task's image locks
// the image before the task (the lock order of pg_task_tx.h).
#include "metadata-svc/pg_task_repository.h"

#include <pqxx/pqxx>

#include "absl/strings/match.h"
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
#include "metadata-svc/task_list_query.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

using Conn = pqxx::connection_base;

absl::Status TaskNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("No task found with ID ", id));
}

absl::Status NotHeld(const std::string& task_id, const std::string& worker) {
  return absl::FailedPreconditionError(
      absl::StrCat("Task ", task_id, " is not being processed by worker ", worker));
}

absl::Status ValidateProgress(const v1::TaskProgress& progress) {
  if (progress.bytes_done() < 0 || progress.bytes_total() < 0) {
    return absl::InvalidArgumentError("progress bytes must be non-negative");
  }
  return absl::OkStatus();
}

// Fails `task` (locked, unfinished) once it has been claimed policy.max_attempts times; an
// import gives its image back as a failed import does.
TaskOutcome GiveUp(pqxx::work& tx, const v1::Task& task, const std::optional<v1::Image>& image,
                   const TaskPolicy& policy) {
  const std::string message =
      absl::StrCat("Gave up after ", task.attempts(),
                   " attempts: the task was claimed that often without finishing (its worker "
                   "crashed or kept failing).");
  TaskOutcome outcome;
  outcome.status = v1::TASK_STATUS_FAILURE;
  outcome.image_id = task.image_id();
  if (task.type() == v1::TASK_TYPE_IMPORT) {
    ImportFailure failure = FailImport(tx, task, image, message, {}, policy.time_to_live);
    outcome.image_status = failure.image_status;
    outcome.cleanup_task_id = failure.cleanup_task_id;
  } else {
    EndTask(tx, task.id(), /*success=*/false, message, std::nullopt, policy.time_to_live);
  }
  return outcome;
}

bool HasLocation(const v1::Image& image, const std::string& url) {
  for (const v1::Location& loc : image.locations()) {
    if (loc.url() == url) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<ClaimResult> PgTaskRepository::ClaimTask(const v1::ClaimTaskRequest& request) {
  if (request.worker_id().empty()) return absl::InvalidArgumentError("worker_id is required");
  if (request.lease_seconds() <= 0) {
    return absl::InvalidArgumentError("lease_seconds must be positive");
  }
  if (!IsUuid(request.task_id())) return TaskNotFound(request.task_id());
  const std::string& id = request.task_id();
  return pool_.Run<ClaimResult>([&](Conn& c) -> absl::StatusOr<ClaimResult> {
    pqxx::work tx(c);
    ClaimResult result;
    v1::ClaimTaskResponse& response = result.response;
    auto claim = [&]() -> absl::StatusOr<bool> {
      pqxx::result claimed = tx.exec_prepared(stmt::kClaimTask, id, request.worker_id(),
                                              request.lease_seconds(), policy_.max_attempts);
      if (claimed.empty()) return false;
      if (absl::Status s = DecodeTask(claimed[0], response.mutable_task()); !s.ok()) return s;
      response.set_outcome(v1::CLAIM_OUTCOME_CLAIMED);
      tx.commit();
      return true;
    };
    auto claimed = claim();
    if (!claimed.ok()) return claimed.status();
    if (*claimed) return result;

    // Not claimable, or claimable only past the attempt limit. Giving up may change the image,
    // so the image is locked first; the failed claim above locked nothing.
    auto both = LockTaskAndImage(tx, id, request.worker_id());
    if (!both.ok()) return both.status();
    const std::optional<v1::Image>& image = both->image;
    const std::optional<LockedTask>& locked = both->task;
    if (!locked) return TaskNotFound(id);
    const LockedTask& task = *locked;
    if (task.task.status() == v1::TASK_STATUS_SUCCESS ||
        task.task.status() == v1::TASK_STATUS_FAILURE) {
      *response.mutable_task() = task.task;
      response.set_outcome(v1::CLAIM_OUTCOME_FINISHED);
      return result;
    }
    if (!task.claimable) {
      // Processing under another worker's live lease.
      *response.mutable_task() = task.task;
      response.set_outcome(v1::CLAIM_OUTCOME_LEASED_ELSEWHERE);
      return result;
    }
    if (task.task.type() == v1::TASK_TYPE_DELETE_DATA ||
        task.task.attempts() < policy_.max_attempts) {
      // It changed between the two statements (e.g. a concurrent claim rolled back); it is
      // locked now, so this claim succeeds.
      claimed = claim();
      if (!claimed.ok()) return claimed.status();
      if (*claimed) return result;
      return absl::AbortedError(absl::StrCat("Task ", id, " changed concurrently; retry"));
    }
    result.gave_up = GiveUp(tx, task.task, image, policy_);
    auto ended = LockTask(tx, id, request.worker_id());
    if (!ended.ok()) return ended.status();
    *response.mutable_task() = (*ended)->task;
    response.set_outcome(v1::CLAIM_OUTCOME_FINISHED);
    tx.commit();
    return result;
  });
}

absl::StatusOr<TaskOutcome> PgTaskRepository::CompleteTask(const v1::CompleteTaskRequest& request) {
  if (!IsUuid(request.task_id())) return NotHeld(request.task_id(), request.worker_id());
  return pool_.Run<TaskOutcome>([&](Conn& c) -> absl::StatusOr<TaskOutcome> {
    pqxx::work tx(c);
    auto both = LockTaskAndImage(tx, request.task_id(), request.worker_id());
    if (!both.ok()) return both.status();
    const std::optional<v1::Image>& image = both->image;
    const std::optional<LockedTask>& locked = both->task;
    if (!locked || locked->task.status() != v1::TASK_STATUS_PROCESSING ||
        locked->lease_owner != request.worker_id()) {
      return NotHeld(request.task_id(), request.worker_id());
    }
    const v1::Task& task = locked->task;
    TaskOutcome outcome;
    outcome.image_id = task.image_id();
    if (task.type() == v1::TASK_TYPE_IMPORT) {
      // Only FinishImport can apply a success to the image; a failure is the same here (a
      // worker that does not know imports fails them this way).
      if (request.success()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Task ", task.id(), " is an import: finish it with FinishImport"));
      }
      ImportFailure failure =
          FailImport(tx, task, image, request.message(), {}, policy_.time_to_live);
      outcome.status = v1::TASK_STATUS_FAILURE;
      outcome.image_status = failure.image_status;
      outcome.cleanup_task_id = failure.cleanup_task_id;
      tx.commit();
      return outcome;
    }
    EndTask(tx, task.id(), request.success(), request.message(), std::nullopt,
            policy_.time_to_live);
    outcome.status = request.success() ? v1::TASK_STATUS_SUCCESS : v1::TASK_STATUS_FAILURE;
    if (request.success() && task.type() == v1::TASK_TYPE_DELETE_DATA && image) {
      // The data of an image in pending_delete is gone: the delayed delete is over. (A failed
      // delete leaves the image there, for an operator to see with its failed task.)
      if (!tx.exec_prepared(stmt::kScrubImage, task.image_id(), task.id()).empty()) {
        tx.exec_prepared0(stmt::kDeleteImageMembers, task.image_id());
        outcome.image_status = v1::IMAGE_STATUS_DELETED;
      }
    }
    tx.commit();
    return outcome;
  });
}

absl::Status PgTaskRepository::RenewTask(const v1::RenewTaskRequest& request) {
  if (request.worker_id().empty()) return absl::InvalidArgumentError("worker_id is required");
  if (request.lease_seconds() < 0) {  // 0 gives the task up (see metadata.proto)
    return absl::InvalidArgumentError("lease_seconds must not be negative");
  }
  if (absl::Status s = ValidateProgress(request.progress()); !s.ok()) return s;
  if (!IsUuid(request.task_id())) return NotHeld(request.task_id(), request.worker_id());
  return pool_.Run([&](Conn& c) -> absl::Status {
    pqxx::work tx(c);
    const v1::TaskProgress& p = request.progress();
    pqxx::result r = tx.exec_prepared(stmt::kRenewTask, request.task_id(), request.worker_id(),
                                      request.lease_seconds(), p.stage(), p.bytes_done(),
                                      p.bytes_total(), request.message());
    if (r.empty()) return NotHeld(request.task_id(), request.worker_id());
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<TaskOutcome> PgTaskRepository::FinishImport(const v1::FinishImportRequest& request) {
  if (request.worker_id().empty()) return absl::InvalidArgumentError("worker_id is required");
  if (request.success()) {
    if (request.location().url().empty()) {
      return absl::InvalidArgumentError("location.url is required for a successful import");
    }
    if (request.size() < 0 || request.virtual_size() < 0) {
      return absl::InvalidArgumentError("size and virtual_size must be non-negative");
    }
  }
  if (!IsUuid(request.task_id())) return NotHeld(request.task_id(), request.worker_id());
  return pool_.Run<TaskOutcome>([&](Conn& c) -> absl::StatusOr<TaskOutcome> {
    pqxx::work tx(c);
    auto both = LockTaskAndImage(tx, request.task_id(), request.worker_id());
    if (!both.ok()) return both.status();
    const std::optional<v1::Image>& image = both->image;
    const std::optional<LockedTask>& locked = both->task;
    if (!locked) return NotHeld(request.task_id(), request.worker_id());
    const v1::Task& task = locked->task;
    if (task.type() != v1::TASK_TYPE_IMPORT) {
      return absl::InvalidArgumentError(absl::StrCat("Task ", task.id(), " is not an import"));
    }
    TaskOutcome outcome;
    outcome.image_id = task.image_id();
    if (task.status() != v1::TASK_STATUS_PROCESSING || locked->lease_owner != request.worker_id()) {
      // A success repeated because its answer was lost: the image shows this very data, which
      // the caller must therefore keep.
      if (request.success() && task.status() == v1::TASK_STATUS_SUCCESS && image &&
          HasLocation(*image, request.location().url())) {
        outcome.status = v1::TASK_STATUS_SUCCESS;
        outcome.replay = true;
        return outcome;
      }
      return NotHeld(request.task_id(), request.worker_id());
    }

    std::vector<std::string> discard(request.discard_urls().begin(), request.discard_urls().end());
    std::string failure_message = request.message();
    if (request.success()) {
      const v1::Image* target = image ? &*image : nullptr;
      if (target == nullptr || target->status() == v1::IMAGE_STATUS_DELETED) {
        failure_message =
            absl::StrCat("Image ", task.image_id(), " was deleted during the import.");
      } else if (!AwaitsImport(*target, task.id())) {
        failure_message =
            absl::StrCat("Image ", task.image_id(), " is no longer awaiting this import.");
      } else {
        // Two imports (or an import and an upload) may each have fitted alone: the data is
        // charged to image_size_total under the project's lock.
        absl::Status quota;
        if (target->has_owner()) {
          quota = EnforceQuota(tx, quotas_, target->owner(),
                               {{QuotaResource::kImageSizeTotal, request.size()}})
                      .status();
        }
        if (quota.ok()) {
          StringMap properties = target->properties();
          properties.erase(stmt::kImportLockProperty);
          for (const auto& [key, value] : request.set_properties()) {
            if (!absl::StartsWith(key, "os_glance")) properties[key] = value;
          }
          std::optional<int64_t> virtual_size;
          if (request.has_virtual_size()) virtual_size = request.virtual_size();
          pqxx::result r = tx.exec_prepared(
              stmt::kImportSucceeded, target->id(), request.size(), request.checksum(),
              request.os_hash_algo(), request.os_hash_value(), virtual_size,
              request.disk_format().empty() ? target->disk_format() : request.disk_format(),
              request.container_format().empty() ? target->container_format()
                                                 : request.container_format(),
              LocationToJson(request.location()), PropertiesToJson(properties));
          if (r.empty()) {  // cannot happen while the row is locked; kept as the compare-and-set
            return absl::AbortedError(
                absl::StrCat("Image ", target->id(), " changed concurrently"));
          }
          EndTask(tx, task.id(), /*success=*/true, request.message(),
                  absl::StrCat(R"({"image_id": ")", target->id(), R"("})"), policy_.time_to_live);
          // Everything but the stored data goes: the staging object and the temporaries.
          std::erase(discard, request.location().url());
          outcome.status = v1::TASK_STATUS_SUCCESS;
          outcome.image_status = v1::IMAGE_STATUS_ACTIVE;
          outcome.cleanup_task_id = QueueImportCleanup(tx, task, std::move(discard));
          tx.commit();
          return outcome;
        }
        failure_message = std::string(quota.message());
      }
    }
    // Nothing points at what the import stored: it goes with the rest.
    discard.push_back(request.location().url());
    ImportFailure failure =
        FailImport(tx, task, image, failure_message, std::move(discard), policy_.time_to_live);
    outcome.status = v1::TASK_STATUS_FAILURE;
    outcome.image_status = failure.image_status;
    outcome.cleanup_task_id = failure.cleanup_task_id;
    tx.commit();
    return outcome;
  });
}

absl::StatusOr<v1::ListTasksResponse> PgTaskRepository::ListTasks(
    const v1::ListTasksRequest& request) {
  if (!request.image_id().empty() && !IsUuid(request.image_id())) {
    return ImageNotFound(request.image_id());
  }
  auto query = BuildTaskListQuery(request, limits_, kTaskColumns);
  if (!query.ok()) return query.status();
  using Response = v1::ListTasksResponse;
  return pool_.Run<Response>([&](Conn& c) -> absl::StatusOr<Response> {
    pqxx::read_transaction tx(c);
    const v1::Caller& caller = request.caller();
    if (!request.image_id().empty()) {
      // GET /v2/images/{id}/tasks: the image must be visible; its tasks then show as any.
      auto image = ReadVisible(tx, caller, request.image_id());
      if (!image.ok()) return image.status();
    }
    if (!request.marker().empty() && tx.exec_prepared(stmt::kTaskMarkerVisible, request.marker(),
                                                      caller.is_admin(), caller.project_id())
                                         .empty()) {
      return absl::InvalidArgumentError("marker not found");
    }
    pqxx::result r = tx.exec_params(query->sql, pqxx::prepare::make_dynamic_params(query->params));
    Response response;
    for (const pqxx::row& row : r) {
      if (absl::Status s = DecodeTask(row, response.add_tasks()); !s.ok()) return s;
    }
    response.set_page_full(static_cast<int>(r.size()) == query->limit);
    return response;
  });
}

absl::StatusOr<v1::Task> PgTaskRepository::GetTask(const v1::GetTaskRequest& request) {
  if (!IsUuid(request.id())) return TaskNotFound(request.id());
  return pool_.Run<v1::Task>([&](Conn& c) -> absl::StatusOr<v1::Task> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared(stmt::kGetVisibleTask, request.id(),
                                      request.caller().is_admin(), request.caller().project_id());
    if (r.empty()) return TaskNotFound(request.id());
    v1::Task task;
    if (absl::Status s = DecodeTask(r[0], &task); !s.ok()) return s;
    return task;
  });
}

absl::StatusOr<std::vector<RedrivenTask>> PgTaskRepository::RedriveStaleTasks(
    int limit, absl::Duration redrive_after) {
  if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  if (redrive_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redrive_after must not be negative");
  }
  using Redriven = std::vector<RedrivenTask>;
  return pool_.Run<Redriven>([&](Conn& c) -> absl::StatusOr<Redriven> {
    pqxx::work tx(c);
    Redriven redriven;
    std::vector<std::string> ids;
    for (const pqxx::row& row :
         tx.exec_prepared(stmt::kLockStaleTasks, limit, absl::ToInt64Microseconds(redrive_after),
                          policy_.max_attempts)) {
      RedrivenTask t;
      t.task_id = row[0].as<std::string>();
      t.type = row[1].as<std::string>();
      t.image_id = row[2].as<std::string>();
      t.request_id = row[3].as<std::string>();
      t.status = row[4].as<std::string>();
      t.lease_owner = row[5].as<std::string>();
      t.attempts = row[6].as<int>();
      if (!row[7].as<bool>()) {
        ids.push_back(t.task_id);
        redriven.push_back(std::move(t));
        continue;
      }
      // A message could only end in this failure: fail it here, with its image. That image is
      // locked after its task here, against the lock order, so only when no one holds it;
      // otherwise a later round tries again.
      std::optional<v1::Image> image;
      if (!t.image_id.empty()) {
        if (tx.exec_prepared(stmt::kTryLockImage, t.image_id).empty()) continue;
        auto decoded = DecodeFirst(tx.exec_prepared(stmt::kLockImage, t.image_id, true, ""));
        if (!decoded.ok()) return decoded.status();
        image = *std::move(decoded);
      }
      auto locked = LockTask(tx, t.task_id, "");
      if (!locked.ok()) return locked.status();
      t.gave_up = GiveUp(tx, (*locked)->task, image, policy_);
      redriven.push_back(std::move(t));
    }
    // The usual round finds nothing: it then writes nothing, and wakes no relay (the outbox
    // trigger notifies once per INSERT statement, even an empty one).
    if (!ids.empty()) tx.exec_prepared0(stmt::kRedriveTasks, PgArrayLiteral(ids));
    tx.commit();
    return redriven;
  });
}

}  // namespace gaze::metadata
