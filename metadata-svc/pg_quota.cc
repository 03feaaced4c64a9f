// Quota lock and usage queries (see pg_quota.h).
#include "metadata-svc/pg_quota.h"

#include "metadata-svc/pg_statements.h"

namespace gaze::metadata {

ProjectUsage ReadUsage(pqxx::transaction_base& tx, const std::string& project) {
  pqxx::row r = tx.exec_prepared1(stmt::kProjectUsage, project);
  return {.count_total = r[0].as<int64_t>(),
          .size_bytes = r[1].as<int64_t>(),
          .count_uploading = r[2].as<int64_t>(),
          .stage_bytes = r[3].as<int64_t>()};
}

absl::StatusOr<std::optional<ProjectUsage>> EnforceQuota(pqxx::work& tx,
                                                         const ProjectQuotas& quotas,
                                                         const std::string& project,
                                                         const std::vector<QuotaDelta>& deltas) {
  if (!quotas.LimitsAny(project, deltas)) return std::nullopt;
  tx.exec_prepared(stmt::kLockProjectQuota, project);
  ProjectUsage usage = ReadUsage(tx, project);
  if (absl::Status s = quotas.Check(project, usage, deltas); !s.ok()) return s;
  return usage;
}

}  // namespace gaze::metadata
