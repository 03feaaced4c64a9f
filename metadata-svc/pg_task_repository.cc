// PgTaskRepository (see pg_task_repository.h).
#include "metadata-svc/pg_task_repository.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "metadata-svc/enums.h"
#include "metadata-svc/pg_rows.h"
#include "metadata-svc/pg_statements.h"
#include "metadata-svc/sql_params.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

absl::Status TaskNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("No task found with ID ", id));
}

}  // namespace

absl::StatusOr<v1::ClaimTaskResponse> PgTaskRepository::ClaimTask(
    const v1::ClaimTaskRequest& request) {
  if (request.worker_id().empty()) return absl::InvalidArgumentError("worker_id is required");
  if (request.lease_seconds() <= 0) {
    return absl::InvalidArgumentError("lease_seconds must be positive");
  }
  if (!IsUuid(request.task_id())) return TaskNotFound(request.task_id());
  using Response = v1::ClaimTaskResponse;
  return pool_.Run<Response>([&](pqxx::connection_base& c) -> absl::StatusOr<Response> {
    pqxx::work tx(c);
    Response response;
    pqxx::result claimed = tx.exec_prepared(stmt::kClaimTask, request.task_id(),
                                            request.worker_id(), request.lease_seconds());
    if (!claimed.empty()) {
      if (absl::Status s = DecodeTask(claimed[0], response.mutable_task()); !s.ok()) return s;
      response.set_outcome(v1::CLAIM_OUTCOME_CLAIMED);
      tx.commit();
      return response;
    }
    pqxx::result r = tx.exec_prepared(stmt::kGetTask, request.task_id());
    if (r.empty()) return TaskNotFound(request.task_id());
    if (absl::Status s = DecodeTask(r[0], response.mutable_task()); !s.ok()) return s;
    switch (response.task().status()) {
      case v1::TASK_STATUS_SUCCESS:
      case v1::TASK_STATUS_FAILURE:
        response.set_outcome(v1::CLAIM_OUTCOME_FINISHED);
        break;
      default:
        // The claim above failed, so the task is processing under another worker's live lease.
        response.set_outcome(v1::CLAIM_OUTCOME_LEASED_ELSEWHERE);
    }
    return response;
  });
}

absl::StatusOr<v1::TaskStatus> PgTaskRepository::CompleteTask(
    const v1::CompleteTaskRequest& request) {
  auto not_held = [&] {
    return absl::FailedPreconditionError(absl::StrCat(
        "Task ", request.task_id(), " is not being processed by worker ", request.worker_id()));
  };
  if (!IsUuid(request.task_id())) return not_held();
  return pool_.Run<v1::TaskStatus>([&](pqxx::connection_base& c) -> absl::StatusOr<v1::TaskStatus> {
    pqxx::work tx(c);
    pqxx::result r = tx.exec_prepared(stmt::kCompleteTask, request.task_id(), request.worker_id(),
                                      request.success(), request.message());
    if (r.empty()) return not_held();
    tx.commit();
    return ParseTaskStatus(r[0][0].as<std::string>());
  });
}

absl::StatusOr<std::vector<RedrivenTask>> PgTaskRepository::RedriveStaleTasks(
    int limit, absl::Duration redrive_after) {
  if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  if (redrive_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redrive_after must not be negative");
  }
  using Redriven = std::vector<RedrivenTask>;
  return pool_.Run<Redriven>([&](pqxx::connection_base& c) -> absl::StatusOr<Redriven> {
    pqxx::work tx(c);
    Redriven redriven;
    std::vector<std::string> ids;
    for (const pqxx::row& row :
         tx.exec_prepared(stmt::kLockStaleTasks, limit, absl::ToInt64Microseconds(redrive_after))) {
      RedrivenTask& t = redriven.emplace_back();
      t.task_id = row[0].as<std::string>();
      t.type = row[1].as<std::string>();
      t.image_id = row[2].as<std::string>();
      t.request_id = row[3].as<std::string>();
      t.status = row[4].as<std::string>();
      t.lease_owner = row[5].as<std::string>();
      t.attempts = row[6].as<int>();
      ids.push_back(t.task_id);
    }
    // The usual round finds nothing: it then writes nothing, and wakes no relay (the outbox
    // trigger notifies once per INSERT statement, even an empty one).
    if (!ids.empty()) tx.exec_prepared0(stmt::kRedriveTasks, PgArrayLiteral(ids));
    tx.commit();
    return redriven;
  });
}

}  // namespace gaze::metadata
