#include "task-worker/testing/fake_task_service.h"

namespace gaze::worker::testing {

namespace mv1 = ::gaze::metadata::v1;

void EventLog::Add(std::string event) {
  absl::MutexLock lock(&mu_);
  events_.push_back(std::move(event));
}

std::vector<std::string> EventLog::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

void FakeTaskService::AddDeleteTask(const std::string& id, const std::vector<std::string>& urls) {
  mv1::Task task;
  task.set_id(id);
  task.set_type(mv1::TASK_TYPE_DELETE_DATA);
  mv1::DeleteDataInput* input = task.mutable_delete_data();
  for (const std::string& url : urls) input->add_urls(url);
  AddTask(std::move(task));
}

void FakeTaskService::AddImportTask(const std::string& id, const std::string& image_id,
                                    mv1::ImportInput input, int attempts) {
  mv1::Task task;
  task.set_id(id);
  task.set_type(mv1::TASK_TYPE_IMPORT);
  task.set_image_id(image_id);
  task.set_attempts(attempts);
  *task.mutable_import() = std::move(input);
  AddTask(std::move(task));
}

void FakeTaskService::AddTask(mv1::Task task) {
  absl::MutexLock lock(&mu_);
  task.set_status(mv1::TASK_STATUS_PENDING);
  const std::string id = task.id();
  tasks_[id] = Entry{std::move(task), ""};
}

void FakeTaskService::LeaseTo(const std::string& id, const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  tasks_[id].lease_holder = worker_id;
  tasks_[id].task.set_status(mv1::TASK_STATUS_PROCESSING);
}

void FakeTaskService::FailNextClaims(std::vector<absl::Status> errors) {
  absl::MutexLock lock(&mu_);
  claim_errors_.insert(claim_errors_.end(), errors.begin(), errors.end());
}

void FakeTaskService::FailNextCompletes(std::vector<absl::Status> errors) {
  absl::MutexLock lock(&mu_);
  complete_errors_.insert(complete_errors_.end(), errors.begin(), errors.end());
}

void FakeTaskService::FailNextFinishes(std::vector<absl::Status> errors) {
  absl::MutexLock lock(&mu_);
  finish_errors_.insert(finish_errors_.end(), errors.begin(), errors.end());
}

void FakeTaskService::OnRenew(std::function<absl::Status(const mv1::RenewTaskRequest&)> hook) {
  absl::MutexLock lock(&mu_);
  on_renew_ = std::move(hook);
}

void FakeTaskService::OnClaim(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  on_claim_ = std::move(hook);
}

mv1::TaskStatus FakeTaskService::status(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(id);
  return it == tasks_.end() ? mv1::TASK_STATUS_UNSPECIFIED : it->second.task.status();
}

std::string FakeTaskService::message(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(id);
  return it == tasks_.end() ? "" : it->second.task.message();
}

int FakeTaskService::completions() const {
  absl::MutexLock lock(&mu_);
  return completions_;
}

std::vector<std::string> FakeTaskService::request_ids() const {
  absl::MutexLock lock(&mu_);
  return request_ids_;
}

std::vector<mv1::RenewTaskRequest> FakeTaskService::renewals() const {
  absl::MutexLock lock(&mu_);
  return renewals_;
}

std::vector<mv1::FinishImportRequest> FakeTaskService::finishes() const {
  absl::MutexLock lock(&mu_);
  return finishes_;
}

absl::StatusOr<mv1::ClaimTaskResponse> FakeTaskService::ClaimTask(
    const mv1::ClaimTaskRequest& request, const std::string& request_id) {
  std::function<void()> hook;
  {
    absl::MutexLock lock(&mu_);
    hook = on_claim_;
  }
  if (hook) hook();
  if (events_ != nullptr) events_->Add("claim " + request.task_id());

  absl::MutexLock lock(&mu_);
  request_ids_.push_back(request_id);
  if (!claim_errors_.empty()) {
    absl::Status error = claim_errors_.front();
    claim_errors_.pop_front();
    return error;
  }
  auto it = tasks_.find(request.task_id());
  if (it == tasks_.end()) return absl::NotFoundError("no task " + request.task_id());
  Entry& entry = it->second;
  mv1::ClaimTaskResponse response;
  const mv1::TaskStatus status = entry.task.status();
  if (status == mv1::TASK_STATUS_SUCCESS || status == mv1::TASK_STATUS_FAILURE) {
    response.set_outcome(mv1::CLAIM_OUTCOME_FINISHED);
  } else if (!entry.lease_holder.empty() && entry.lease_holder != request.worker_id()) {
    response.set_outcome(mv1::CLAIM_OUTCOME_LEASED_ELSEWHERE);
  } else {
    entry.lease_holder = request.worker_id();
    entry.task.set_status(mv1::TASK_STATUS_PROCESSING);
    entry.task.set_attempts(entry.task.attempts() + 1);
    response.set_outcome(mv1::CLAIM_OUTCOME_CLAIMED);
  }
  *response.mutable_task() = entry.task;
  return response;
}

absl::Status FakeTaskService::CompleteTask(const mv1::CompleteTaskRequest& request,
                                           const std::string& request_id) {
  if (events_ != nullptr) {
    events_->Add("complete " + request.task_id() + (request.success() ? " ok" : " failed"));
  }
  absl::MutexLock lock(&mu_);
  request_ids_.push_back(request_id);
  if (!complete_errors_.empty()) {
    absl::Status error = complete_errors_.front();
    complete_errors_.pop_front();
    return error;
  }
  auto it = tasks_.find(request.task_id());
  if (it == tasks_.end()) return absl::NotFoundError("no task " + request.task_id());
  Entry& entry = it->second;
  if (entry.lease_holder != request.worker_id() ||
      entry.task.status() != mv1::TASK_STATUS_PROCESSING) {
    return absl::FailedPreconditionError("task is not leased to " + request.worker_id());
  }
  entry.task.set_status(request.success() ? mv1::TASK_STATUS_SUCCESS : mv1::TASK_STATUS_FAILURE);
  entry.task.set_message(request.message());
  entry.lease_holder.clear();
  ++completions_;
  return absl::OkStatus();
}

absl::Status FakeTaskService::RenewTask(const mv1::RenewTaskRequest& request, const std::string&) {
  std::function<absl::Status(const mv1::RenewTaskRequest&)> hook;
  {
    absl::MutexLock lock(&mu_);
    renewals_.push_back(request);
    hook = on_renew_;
  }
  if (hook) {
    if (absl::Status injected = hook(request); !injected.ok()) return injected;
  }
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(request.task_id());
  if (it == tasks_.end()) return absl::NotFoundError("no task " + request.task_id());
  Entry& entry = it->second;
  if (entry.lease_holder != request.worker_id() ||
      entry.task.status() != mv1::TASK_STATUS_PROCESSING) {
    return absl::FailedPreconditionError("task is not leased to " + request.worker_id());
  }
  *entry.task.mutable_progress() = request.progress();
  entry.task.set_message(request.message());
  if (request.lease_seconds() == 0) {  // given up: the next claim, by any worker, takes it
    entry.lease_holder.clear();
    if (events_ != nullptr) events_->Add("release " + request.task_id());
  }
  return absl::OkStatus();
}

void FakeTaskService::RefuseNextSuccess(std::string message) {
  absl::MutexLock lock(&mu_);
  refuse_success_ = std::move(message);
}

absl::StatusOr<mv1::FinishImportResponse> FakeTaskService::FinishImport(
    const mv1::FinishImportRequest& request, const std::string& request_id) {
  if (events_ != nullptr) {
    events_->Add("finish " + request.task_id() + (request.success() ? " ok" : " failed"));
  }
  absl::MutexLock lock(&mu_);
  request_ids_.push_back(request_id);
  finishes_.push_back(request);
  if (!finish_errors_.empty()) {
    absl::Status error = finish_errors_.front();
    finish_errors_.pop_front();
    return error;
  }
  auto it = tasks_.find(request.task_id());
  if (it == tasks_.end()) return absl::NotFoundError("no task " + request.task_id());
  Entry& entry = it->second;
  if (entry.lease_holder != request.worker_id() ||
      entry.task.status() != mv1::TASK_STATUS_PROCESSING) {
    return absl::FailedPreconditionError("task is not leased to " + request.worker_id());
  }
  const bool applied = request.success() && !refuse_success_;
  entry.task.set_status(applied ? mv1::TASK_STATUS_SUCCESS : mv1::TASK_STATUS_FAILURE);
  entry.task.set_message(request.success() && refuse_success_ ? *refuse_success_
                                                              : request.message());
  if (request.success()) refuse_success_.reset();
  entry.lease_holder.clear();
  ++completions_;
  mv1::FinishImportResponse response;
  response.set_status(entry.task.status());
  return response;
}

}  // namespace gaze::worker::testing
