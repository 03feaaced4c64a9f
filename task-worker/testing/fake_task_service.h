// An in-memory TaskService with metadata-svc's claim/complete semantics (metadata.proto), for
// task-worker tests, and an EventLog in which fakes record what happened in which order.
// Thread-safe: an integration test reads it while a worker runs.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gaze/metadata/v1/metadata.pb.h"
#include "task-worker/task_service.h"

namespace gaze::worker::testing {

class EventLog {
 public:
  void Add(std::string event) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> events() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

// Records "claim <task>", "complete <task> ok|failed", "finish <task> ok|failed". Renewals
// come from a thread of their own at times of their own, so they are kept apart (renewals()).
class FakeTaskService final : public TaskService {
 public:
  explicit FakeTaskService(EventLog* events = nullptr) : events_(events) {}

  // A PENDING task of type DELETE_DATA.
  void AddDeleteTask(const std::string& id, const std::vector<std::string>& urls);
  // A PENDING task of type IMPORT that was claimed `attempts` times before.
  void AddImportTask(const std::string& id, const std::string& image_id,
                     metadata::v1::ImportInput input, int attempts = 0);
  void AddTask(metadata::v1::Task task);
  // Gives `id` a live lease held by `worker_id`.
  void LeaseTo(const std::string& id, const std::string& worker_id);
  // The next calls return these errors, in order, before behaving normally.
  void FailNextClaims(std::vector<absl::Status> errors);
  void FailNextCompletes(std::vector<absl::Status> errors);
  void FailNextFinishes(std::vector<absl::Status> errors);
  // The next successful FinishImport calls are not applied, as metadata-svc answers when the
  // image was deleted meanwhile or the data no longer fits the quota: the task fails with
  // `message`.
  void RefuseNextSuccess(std::string message);
  // Runs at the start of every ClaimTask, outside the lock.
  void OnClaim(std::function<void()> hook);
  // Runs at the start of every RenewTask, outside the lock; an error it returns is the call's.
  void OnRenew(std::function<absl::Status(const metadata::v1::RenewTaskRequest&)> hook);

  metadata::v1::TaskStatus status(const std::string& id) const;
  std::string message(const std::string& id) const;
  // CompleteTask and FinishImport calls that finished a task.
  int completions() const;
  // The request id of every call but RenewTask, in order.
  std::vector<std::string> request_ids() const;
  // Every RenewTask and FinishImport request received, in order.
  std::vector<metadata::v1::RenewTaskRequest> renewals() const;
  std::vector<metadata::v1::FinishImportRequest> finishes() const;

  absl::StatusOr<metadata::v1::ClaimTaskResponse> ClaimTask(
      const metadata::v1::ClaimTaskRequest& request, const std::string& request_id) override;
  absl::Status CompleteTask(const metadata::v1::CompleteTaskRequest& request,
                            const std::string& request_id) override;
  absl::Status RenewTask(const metadata::v1::RenewTaskRequest& request,
                         const std::string& request_id) override;
  absl::StatusOr<metadata::v1::FinishImportResponse> FinishImport(
      const metadata::v1::FinishImportRequest& request, const std::string& request_id) override;

 private:
  struct Entry {
    metadata::v1::Task task;
    std::string lease_holder;
  };

  EventLog* const events_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> tasks_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Status> claim_errors_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Status> complete_errors_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Status> finish_errors_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> refuse_success_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_claim_ ABSL_GUARDED_BY(mu_);
  std::function<absl::Status(const metadata::v1::RenewTaskRequest&)> on_renew_ ABSL_GUARDED_BY(mu_);
  int completions_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> request_ids_ ABSL_GUARDED_BY(mu_);
  std::vector<metadata::v1::RenewTaskRequest> renewals_ ABSL_GUARDED_BY(mu_);
  std::vector<metadata::v1::FinishImportRequest> finishes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gaze::worker::testing
