#include "task-worker/testing/fake_import_runner.h"

namespace gaze::worker::testing {

Disposition FakeImportRunner::Run(const metadata::v1::Task& task, const std::string& request_id) {
  if (events_ != nullptr) events_->Add("import " + task.id());
  metadata::v1::FinishImportRequest finish;
  finish.set_task_id(task.id());
  finish.set_worker_id(worker_id_);
  finish.set_success(true);
  return tasks_.FinishImport(finish, request_id).ok() ? Disposition::kAck : Disposition::kRequeue;
}

}  // namespace gaze::worker::testing
