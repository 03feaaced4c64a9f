// Task creation, locking and ending (see pg_task_tx.h).
#include "metadata-svc/pg_task_tx.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "metadata-svc/enums.h"
#include "metadata-svc/json_codec.h"
#include "metadata-svc/pg_image_tx.h"
#include "metadata-svc/pg_rows.h"
#include "metadata-svc/pg_statements.h"
#include "services/common/ids.h"

namespace gaze::metadata {

void InsertTask(pqxx::work& tx, const std::string& id, v1::TaskType type, const TaskOrigin& origin,
                const std::string& input, const std::optional<std::string>& glance_input,
                absl::Duration delay) {
  tx.exec_prepared(stmt::kInsertTask, id, TaskTypeName(type), origin.image_id, origin.request_id,
                   input, origin.owner, origin.user_id, glance_input, absl::ToInt64Seconds(delay));
}

std::string InsertDeleteDataTask(pqxx::work& tx, const TaskOrigin& origin,
                                 const std::vector<std::string>& urls, absl::Duration delay) {
  v1::DeleteDataInput input;
  for (const std::string& url : urls) input.add_urls(url);
  std::string id = NewUuid();
  InsertTask(tx, id, v1::TASK_TYPE_DELETE_DATA, origin, DeleteDataInputToJson(input), std::nullopt,
             delay);
  return id;
}

absl::StatusOr<std::optional<LockedTask>> LockTask(pqxx::work& tx, const std::string& task_id,
                                                   const std::string& worker) {
  pqxx::result r = tx.exec_prepared(stmt::kLockTask, task_id, worker);
  if (r.empty()) return std::nullopt;
  LockedTask locked;
  if (absl::Status s = DecodeTask(r[0], &locked.task); !s.ok()) return s;
  locked.claimable = r[0][kTaskColumnCount].as<bool>();
  locked.lease_owner = r[0][kTaskColumnCount + 1].as<std::string>();
  locked.lock_stale = r[0][kTaskColumnCount + 2].as<bool>();
  return locked;
}

absl::StatusOr<std::optional<v1::Image>> LockTaskImage(pqxx::work& tx, const std::string& task_id) {
  // One statement: the image id is read from the task row without locking it.
  pqxx::result image = tx.exec_prepared(stmt::kLockTaskImage, task_id);
  if (image.empty()) return std::nullopt;
  auto decoded = DecodeFirst(image);
  if (!decoded.ok()) return decoded.status();
  return *std::move(decoded);
}

absl::StatusOr<LockedTaskAndImage> LockTaskAndImage(pqxx::work& tx, const std::string& task_id,
                                                    const std::string& worker) {
  auto image = LockTaskImage(tx, task_id);
  if (!image.ok()) return image.status();
  auto task = LockTask(tx, task_id, worker);
  if (!task.ok()) return task.status();
  return LockedTaskAndImage{.image = *std::move(image), .task = *std::move(task)};
}

void EndTask(pqxx::work& tx, const std::string& task_id, bool success, const std::string& message,
             const std::optional<std::string>& result, absl::Duration time_to_live) {
  tx.exec_prepared(stmt::kEndTask, task_id, success, message, result,
                   absl::ToInt64Seconds(time_to_live));
}

bool AwaitsImport(const v1::Image& image, const std::string& task_id) {
  if (image.status() != v1::IMAGE_STATUS_IMPORTING) return false;
  auto lock = image.properties().find(stmt::kImportLockProperty);
  return lock != image.properties().end() && lock->second == task_id;
}

ImportFailure FailImport(pqxx::work& tx, const v1::Task& task,
                         const std::optional<v1::Image>& image, const std::string& message,
                         std::vector<std::string> discard_urls, absl::Duration time_to_live) {
  ImportFailure failure;
  EndTask(tx, task.id(), /*success=*/false, message, std::nullopt, time_to_live);
  if (image && AwaitsImport(*image, task.id())) {
    pqxx::result r = tx.exec_prepared(stmt::kImportReverted, image->id());
    if (!r.empty()) failure.image_status = ParseImageStatus(r[0][0].as<std::string>());
  }
  failure.cleanup_task_id = QueueImportCleanup(tx, task, std::move(discard_urls));
  return failure;
}

std::string QueueImportCleanup(pqxx::work& tx, const v1::Task& task,
                               std::vector<std::string> urls) {
  // The staging object belongs to the import from StartImport on (DeleteImage leaves it to
  // the import), so it goes with the import whatever happened to the image.
  urls.push_back(task.import().staging_url());
  std::sort(urls.begin(), urls.end());
  urls.erase(std::unique(urls.begin(), urls.end()), urls.end());
  urls.erase(std::remove(urls.begin(), urls.end(), ""), urls.end());
  if (urls.empty()) return "";
  TaskOrigin origin{
      .image_id = task.image_id(),
      .owner = task.owner().empty() ? std::nullopt : std::optional<std::string>(task.owner()),
      .request_id = task.request_id(),
      .user_id = task.user_id()};
  return InsertDeleteDataTask(tx, origin, urls);
}

}  // namespace gaze::metadata
