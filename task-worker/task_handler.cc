#include "task-worker/task_handler.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gaze/metadata/v1/metadata.pb.h"
#include "gaze/tasks/v1/task_message.pb.h"
#include "services/common/log.h"

namespace gaze::worker {
namespace {

namespace mv1 = ::gaze::metadata::v1;

// The outcome of running a claimed task.
struct RunResult {
  static RunResult Succeeded() { return {false, true, ""}; }
  static RunResult Failed(std::string message) { return {false, false, std::move(message)}; }
  static RunResult Retry() { return {true, false, ""}; }

  // Transient failure: requeue without recording anything.
  bool retry;
  // Otherwise the outcome to record with CompleteTask.
  bool success;
  std::string message;
};

RunResult RunDeleteData(const mv1::Task& task, store::Store& store, const std::string& rid) {
  if (!task.has_delete_data()) {
    return RunResult::Failed("DELETE_DATA task without delete_data input");
  }
  std::vector<std::string> refused;
  for (const std::string& url : task.delete_data().urls()) {
    absl::Status deleted = store.Delete(url);
    if (deleted.ok()) {
      log::Debug("deleted object").RequestId(rid).Field("task_id", task.id()).Field("url", url);
      continue;
    }
    if (deleted.code() == absl::StatusCode::kInvalidArgument) {
      // Retrying cannot help; the other objects are still deleted.
      log::Error("refusing to delete object")
          .RequestId(rid)
          .Field("task_id", task.id())
          .Field("url", url)
          .Field("error", deleted.ToString());
      refused.push_back(absl::StrCat(url, ": ", deleted.message()));
      continue;
    }
    // Deletes are idempotent: the retry starts again from the first URL.
    log::Warning("cannot delete object; will retry")
        .RequestId(rid)
        .Field("task_id", task.id())
        .Field("url", url)
        .Field("error", deleted.ToString());
    return RunResult::Retry();
  }
  if (!refused.empty()) {
    return RunResult::Failed(absl::StrCat("cannot delete ", absl::StrJoin(refused, "; ")));
  }
  return RunResult::Succeeded();
}

RunResult Run(const mv1::Task& task, store::Store& store, const std::string& rid) {
  switch (task.type()) {
    case mv1::TASK_TYPE_DELETE_DATA:
      return RunDeleteData(task, store, rid);
    default:
      return RunResult::Failed(absl::StrCat("task type ", mv1::TaskType_Name(task.type()), " (",
                                            static_cast<int>(task.type()),
                                            ") is not supported by this worker"));
  }
}

}  // namespace

HandleResult TaskHandler::Handle(const amqp::Delivery& delivery) {
  tasks::v1::TaskMessage message;
  // An empty or garbage body may still parse as a protobuf; without a task id it is no task.
  if (!message.ParseFromString(delivery.body) || message.task_id().empty()) {
    log::Error("not a task message; dead-lettering it")
        .RequestId(delivery.correlation_id)
        .Field("message_id", delivery.message_id)
        .Field("delivery_tag", delivery.delivery_tag)
        .Field("body_bytes", static_cast<uint64_t>(delivery.body.size()));
    return {Disposition::kDeadLetter, delivery.correlation_id};
  }
  const std::string rid =
      message.request_id().empty() ? delivery.correlation_id : message.request_id();
  const std::string& task_id = message.task_id();
  HandleResult ack{Disposition::kAck, rid};
  HandleResult requeue{Disposition::kRequeue, rid};

  mv1::ClaimTaskRequest claim_request;
  claim_request.set_task_id(task_id);
  claim_request.set_worker_id(options_.worker_id);
  claim_request.set_lease_seconds(options_.lease_seconds);
  absl::StatusOr<mv1::ClaimTaskResponse> claim = tasks_.ClaimTask(claim_request, rid);
  if (!claim.ok()) {
    switch (claim.status().code()) {
      case absl::StatusCode::kNotFound:
        log::Warning("task not found; dropping its message")
            .RequestId(rid)
            .Field("task_id", task_id)
            .Field("error", claim.status().ToString());
        return ack;
      case absl::StatusCode::kInvalidArgument:
        log::Error("metadata-svc rejects the task id; dead-lettering the message")
            .RequestId(rid)
            .Field("task_id", task_id)
            .Field("error", claim.status().ToString());
        return {Disposition::kDeadLetter, rid};
      default:
        log::Warning("cannot claim task; will retry")
            .RequestId(rid)
            .Field("task_id", task_id)
            .Field("error", claim.status().ToString());
        return requeue;
    }
  }

  switch (claim->outcome()) {
    case mv1::CLAIM_OUTCOME_CLAIMED:
      break;
    case mv1::CLAIM_OUTCOME_FINISHED:
      log::Info("task already finished; acknowledging duplicate message")
          .RequestId(rid)
          .Field("task_id", task_id)
          .Field("redelivered", delivery.redelivered);
      return ack;
    case mv1::CLAIM_OUTCOME_LEASED_ELSEWHERE:
      log::Info("task leased by another worker; acknowledging duplicate message")
          .RequestId(rid)
          .Field("task_id", task_id)
          .Field("redelivered", delivery.redelivered);
      return ack;
    default:
      log::Error("unknown claim outcome; will retry")
          .RequestId(rid)
          .Field("task_id", task_id)
          .Field("outcome", static_cast<int>(claim->outcome()));
      return requeue;
  }

  const mv1::Task& task = claim->task();
  log::Info("running task")
      .RequestId(rid)
      .Field("task_id", task_id)
      .Field("type", mv1::TaskType_Name(task.type()))
      .Field("attempts", static_cast<int>(task.attempts()))
      .Field("redelivered", delivery.redelivered);
  if (task.type() == mv1::TASK_TYPE_IMPORT) {
    const Disposition disposition = imports_.Run(task, rid);
    if (disposition == Disposition::kRequeue) return Requeue(task_id, rid);
    return {disposition, rid};
  }
  const RunResult result = Run(task, store_, rid);
  if (result.retry) return Requeue(task_id, rid);

  mv1::CompleteTaskRequest complete_request;
  complete_request.set_task_id(task_id);
  complete_request.set_worker_id(options_.worker_id);
  complete_request.set_success(result.success);
  complete_request.set_message(result.message);
  if (absl::Status completed = tasks_.CompleteTask(complete_request, rid); !completed.ok()) {
    switch (completed.code()) {
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kFailedPrecondition:
        // The lease expired and another worker took the task over; it records the outcome.
        log::Warning("task no longer ours to complete; acknowledging")
            .RequestId(rid)
            .Field("task_id", task_id)
            .Field("error", completed.ToString());
        return ack;
      default:
        log::Warning("cannot record task outcome; will retry")
            .RequestId(rid)
            .Field("task_id", task_id)
            .Field("error", completed.ToString());
        return Requeue(task_id, rid);
    }
  }
  if (result.success) {
    log::Info("task succeeded").RequestId(rid).Field("task_id", task_id);
  } else {
    log::Error("task failed")
        .RequestId(rid)
        .Field("task_id", task_id)
        .Field("error", result.message);
  }
  return ack;
}

HandleResult TaskHandler::Requeue(const std::string& task_id, const std::string& request_id) {
  mv1::RenewTaskRequest release;
  release.set_task_id(task_id);
  release.set_worker_id(options_.worker_id);
  release.set_lease_seconds(0);
  if (absl::Status released = tasks_.RenewTask(release, request_id); !released.ok()) {
    // Harmless: the lease then runs out by itself (or the task was finished after all).
    log::Warning("cannot give up the task's lease before requeueing it")
        .RequestId(request_id)
        .Field("task_id", task_id)
        .Field("error", released.ToString());
  }
  return {Disposition::kRequeue, request_id};
}

}  // namespace gaze::worker
