// What the TaskHandler hands a claimed IMPORT task to, and what it gets back. An import records
// its own outcome (TaskService.FinishImport, which also updates the image), so the handler
// only learns how to settle the message. The implementation is importer.h; handler tests use
// a fake.
#pragma once

#include <string>

namespace gaze::metadata::v1 {
class Task;
}

namespace gaze::worker {

enum class Disposition {
  kAck,         // done with the message (worked, duplicate, or failed permanently)
  kRequeue,     // transient failure: back off, then Nack(requeue=true)
  kDeadLetter,  // not a task message: Nack(requeue=false)
};

class ImportRunner {
 public:
  virtual ~ImportRunner() = default;
  // Runs `task` (claimed by this worker, type IMPORT) to its end.
  virtual Disposition Run(const metadata::v1::Task& task, const std::string& request_id) = 0;
};

}  // namespace gaze::worker
