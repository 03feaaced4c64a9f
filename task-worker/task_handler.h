// What task-worker does with one delivery from the task queue.
//
// At-least-once contract. RabbitMQ delivers each task message at least once: again when a
// worker dies or loses its connection before acking, and again after a requeue. A message only
// names a task (gaze.tasks.v1.TaskMessage); the task itself lives in metadata-svc, which
// decides through ClaimTask who works on it, so a duplicate delivery has one effect:
//   * CLAIMED: this worker now holds the task's lease (claims are idempotent per worker, so a
//     redelivery to the same worker claims it again). The worker does the work, records the
//     outcome with CompleteTask, and only then acks. If it dies in between, the redelivery
//     finds the task FINISHED, or claims it and does the work again.
//   * FINISHED, LEASED_ELSEWHERE: a duplicate. Acked without doing anything.
//   * NOT_FOUND: nothing to do; acked with a warning.
// Hence the work itself must be idempotent: DELETE_DATA is, because deleting an object that is
// already gone succeeds; IMPORT is, because every attempt writes an object of its own and
// lists its predecessors' for deletion (importer.h).
//
// DELETE_DATA also serves delayed delete: metadata-svc hands the task out once the image's
// pending_delete time has come, and CompleteTask(success=true) then also moves the image from
// PENDING_DELETE to DELETED. So the data must really be gone before the task succeeds: any
// store error but a refused URL requeues. IMPORT tasks go to the ImportRunner, which records
// the outcome itself with FinishImport (that also updates the image).
//
// Failures. A permanent one (a URL outside the store, an unknown task type) is recorded with
// CompleteTask(success=false) and the message acked. A transient one (store I/O, metadata-svc
// unavailable) leaves the task as it is and asks for the message to be requeued after a
// back-off; RabbitMQ's delivery limit dead-letters a message that keeps failing. If the
// requeued message reaches another worker while this worker's lease is still live, that worker
// acks it as LEASED_ELSEWHERE, and the task is finished once metadata-svc hands it out again
// after the lease expires. A message that is not a TaskMessage is dead-lettered at once.
#pragma once

#include <string>

#include "services/amqp/amqp.h"
#include "services/store/store.h"
#include "task-worker/import_runner.h"
#include "task-worker/task_service.h"

namespace gaze::worker {

struct HandleResult {
  Disposition disposition;
  // For the log lines about the message that the caller writes.
  std::string request_id;
};

class TaskHandler {
 public:
  struct Options {
    // Names this worker as the lease holder.
    std::string worker_id;
    // Long enough for the slowest delete, which does not renew its lease (imports do).
    int lease_seconds = 300;
  };

  TaskHandler(Options options, TaskService& tasks, store::Store& store, ImportRunner& imports)
      : options_(std::move(options)), tasks_(tasks), store_(store), imports_(imports) {}

  HandleResult Handle(const amqp::Delivery& delivery);

 private:
  // The message of claimed task `task_id` goes back to the queue: the task's lease is given up
  // first, so that the next delivery takes the task over on whichever worker it reaches
  // (another worker would otherwise drop it as a duplicate while the lease runs out, and only
  // the re-drive would send it again).
  HandleResult Requeue(const std::string& task_id, const std::string& request_id);

  Options options_;
  TaskService& tasks_;
  store::Store& store_;
  ImportRunner& imports_;
};

}  // namespace gaze::worker
