// Steps shared by the transactions that create, end and cancel tasks, whichever repository runs
// them: PgImageRepository (DeleteImage, StartImport, RestoreImage, the upload sweeper) and
// PgTaskRepository (claims, completions, imports and the re-drive).
//
// Lock order: a transaction that locks both an image row and a task row locks the image first,
// so no two transactions wait for each other in opposite orders. A task call that may change
// the task's image therefore locks the image, reading its id from the task row without locking
// that (LockTaskImage), and only then locks the task (LockTask). Background jobs that find tasks
// first lock the image with SKIP LOCKED instead, so they never wait while holding a task.
#pragma once

#include <optional>
#include <pqxx/transaction>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

// Whom a new task is about and who caused it.
struct TaskOrigin {
  std::string image_id;
  std::optional<std::string> owner;  // the image's owner: the task's project
  std::string request_id;            // x-openstack-request-id of the causing call
  std::string user_id;               // "" for background jobs
};

// Inserts a pending task with id `id` and its outbox row, which the relay publishes after
// `delay`. `input` is the typed input as JSON (json_codec.h); `glance_input` Glance's task
// input object, when the task has one.
void InsertTask(pqxx::work& tx, const std::string& id, v1::TaskType type, const TaskOrigin& origin,
                const std::string& input, const std::optional<std::string>& glance_input,
                absl::Duration delay);

// Queues a delete_data task for `urls` (which must not be empty); returns its id.
std::string InsertDeleteDataTask(pqxx::work& tx, const TaskOrigin& origin,
                                 const std::vector<std::string>& urls,
                                 absl::Duration delay = absl::ZeroDuration());

// A task row locked FOR UPDATE, with what the callers decide on.
struct LockedTask {
  v1::Task task;
  // Worker `worker` of LockTask could claim it (pending, or processing under an expired lease
  // or its own), the attempt limit aside.
  bool claimable = false;
  std::string lease_owner;  // "" when not leased
  // Unfinished but silent for long (Glance's import lock expiry: an hour processing, two
  // pending): the import lock it holds may be broken.
  bool lock_stale = false;
};

// Locks task `task_id` for the rest of `tx`; nullopt when there is no such task.
absl::StatusOr<std::optional<LockedTask>> LockTask(pqxx::work& tx, const std::string& task_id,
                                                   const std::string& worker);

// The image of task `task_id`, locked FOR UPDATE (deleted or not), without locking the task;
// nullopt when the task does not exist or has no image.
absl::StatusOr<std::optional<v1::Image>> LockTaskImage(pqxx::work& tx, const std::string& task_id);

// A task and its image, locked for the rest of a transaction.
struct LockedTaskAndImage {
  std::optional<v1::Image> image;  // nullopt when the task has none
  std::optional<LockedTask> task;  // nullopt when there is no such task
};

// Locks the image of task `task_id` (LockTaskImage), then the task (LockTask): the lock order
// of every call that may change both, so that two of them never wait on each other.
absl::StatusOr<LockedTaskAndImage> LockTaskAndImage(pqxx::work& tx, const std::string& task_id,
                                                    const std::string& worker);

// Ends unfinished task `task_id`: SUCCESS or FAILURE with `message` and, when given, Glance's
// result object; it stays listed for `time_to_live`.
void EndTask(pqxx::work& tx, const std::string& task_id, bool success, const std::string& message,
             const std::optional<std::string>& result, absl::Duration time_to_live);

// True while `image` is importing under the import lock of task `task_id`.
bool AwaitsImport(const v1::Image& image, const std::string& task_id);

// What ending an import without an image did.
struct ImportFailure {
  // The image's status afterwards when this changed it (QUEUED), else UNSPECIFIED.
  v1::ImageStatus image_status = v1::IMAGE_STATUS_UNSPECIFIED;
  // The delete_data task for the staging object and `discard_urls` ("" when none).
  std::string cleanup_task_id;
};

// Fails the unfinished import task `task` (locked) with `message`, and undoes the import:
// `image` (locked; nullopt when gone), while it awaits this task, returns to QUEUED without the
// lock, its size or its staging object (Glance removes staged data when an import fails); the
// staging object and `discard_urls` are queued for deletion.
ImportFailure FailImport(pqxx::work& tx, const v1::Task& task,
                         const std::optional<v1::Image>& image, const std::string& message,
                         std::vector<std::string> discard_urls, absl::Duration time_to_live);

// Queues one delete_data task for `urls` and import task `task`'s staging object (empty and
// repeated entries dropped); returns its id, or "" when there is nothing to delete.
std::string QueueImportCleanup(pqxx::work& tx, const v1::Task& task, std::vector<std::string> urls);

}  // namespace gaze::metadata
