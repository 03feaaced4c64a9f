// TaskRepository on PostgreSQL: claims are compare-and-set updates on the tasks row; a task's
// end and its effect on the image are one transaction; a re-drive inserts outbox rows, which
// the outbox relay publishes.
#pragma once

#include "metadata-svc/list_query.h"
#include "metadata-svc/pg_pool.h"
#include "metadata-svc/quotas.h"
#include "metadata-svc/task_repository.h"

namespace gaze::metadata {

class PgTaskRepository final : public TaskRepository {
 public:
  // `pool` must have been created with stmt::PrepareStatements and outlive this object.
  // `quotas` are re-checked when an import stores its data.
  explicit PgTaskRepository(PgPool& pool, TaskPolicy policy = {}, ListLimits limits = {},
                            ProjectQuotas quotas = {})
      : pool_(pool), policy_(policy), limits_(limits), quotas_(std::move(quotas)) {}

  absl::StatusOr<ClaimResult> ClaimTask(const v1::ClaimTaskRequest& request) override;
  absl::StatusOr<TaskOutcome> CompleteTask(const v1::CompleteTaskRequest& request) override;
  absl::Status RenewTask(const v1::RenewTaskRequest& request) override;
  absl::StatusOr<TaskOutcome> FinishImport(const v1::FinishImportRequest& request) override;
  absl::StatusOr<v1::ListTasksResponse> ListTasks(const v1::ListTasksRequest& request) override;
  absl::StatusOr<v1::Task> GetTask(const v1::GetTaskRequest& request) override;
  absl::StatusOr<std::vector<RedrivenTask>> RedriveStaleTasks(
      int limit, absl::Duration redrive_after) override;

 private:
  PgPool& pool_;
  const TaskPolicy policy_;
  const ListLimits limits_;
  const ProjectQuotas quotas_;
};

}  // namespace gaze::metadata
