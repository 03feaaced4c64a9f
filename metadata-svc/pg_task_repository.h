// TaskRepository on PostgreSQL: claims are compare-and-set updates on the tasks row; a re-drive
// inserts outbox rows, which the outbox relay publishes.
#pragma once

#include "metadata-svc/pg_pool.h"
#include "metadata-svc/task_repository.h"

namespace gaze::metadata {

class PgTaskRepository final : public TaskRepository {
 public:
  // `pool` must have been created with stmt::PrepareStatements and outlive this object.
  explicit PgTaskRepository(PgPool& pool) : pool_(pool) {}

  absl::StatusOr<v1::ClaimTaskResponse> ClaimTask(const v1::ClaimTaskRequest& request) override;
  absl::StatusOr<v1::TaskStatus> CompleteTask(const v1::CompleteTaskRequest& request) override;
  absl::StatusOr<std::vector<RedrivenTask>> RedriveStaleTasks(
      int limit, absl::Duration redrive_after) override;

 private:
  PgPool& pool_;
};

}  // namespace gaze::metadata
