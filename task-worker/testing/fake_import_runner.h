// An ImportRunner that does no work: it records "import <task>" and finishes the task in the
// FakeTaskService as an import would, so that handler and worker tests see the real effect of
// a duplicate delivery.
#pragma once

#include <string>

#include "task-worker/import_runner.h"
#include "task-worker/testing/fake_task_service.h"

namespace gaze::worker::testing {

class FakeImportRunner final : public ImportRunner {
 public:
  FakeImportRunner(FakeTaskService& tasks, std::string worker_id, EventLog* events = nullptr)
      : tasks_(tasks), worker_id_(std::move(worker_id)), events_(events) {}

  Disposition Run(const metadata::v1::Task& task, const std::string& request_id) override;

 private:
  FakeTaskService& tasks_;
  const std::string worker_id_;
  EventLog* const events_;
};

}  // namespace gaze::worker::testing
