// Per-project quotas inside a transaction (the rules are in quotas.h).
//
// Enforcement is atomic per project: a call that may raise a project's usage first takes the
// project's transaction-scoped quota lock, then reads the usage and checks usage + delta
// against the limit, and holds the lock until it commits. The transaction is READ COMMITTED,
// so the usage query's snapshot is taken after the lock was granted: two uploads (or creates)
// of one project are checked one after the other, the second seeing the first's effect.
//
// Lock order: a call that locks an image row (BeginUpload, CompleteUpload) does so before it
// takes the quota lock, and a call holding the quota lock (CreateImage) locks no existing
// image row, so no two calls wait for each other in opposite orders.
#pragma once

#include <optional>
#include <pqxx/transaction>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "metadata-svc/quotas.h"

namespace gaze::metadata {

// The usage of `project`, as of now (no lock).
ProjectUsage ReadUsage(pqxx::transaction_base& tx, const std::string& project);

// When `project` has a limit on the resource of any of `deltas`: takes its quota lock, reads
// its usage and checks the deltas (RESOURCE_EXHAUSTED, see ProjectQuotas::Check); returns the
// usage read under the lock. Otherwise returns nullopt and takes no lock.
absl::StatusOr<std::optional<ProjectUsage>> EnforceQuota(pqxx::work& tx,
                                                         const ProjectQuotas& quotas,
                                                         const std::string& project,
                                                         const std::vector<QuotaDelta>& deltas);

}  // namespace gaze::metadata
