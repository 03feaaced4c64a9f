// Applies the schema migrations to a database, safely from any number of processes at once.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "metadata-svc/migrations.h"

namespace gaze::metadata {

// Connects to `dsn`, takes a PostgreSQL advisory lock (so that replicas starting together
// migrate one after the other), and applies every migration not yet recorded in
// schema_migrations(version, name, applied_at), each in its own transaction together with its
// record. Returns how many it applied. UNAVAILABLE when the database cannot be reached.
absl::StatusOr<int> ApplyMigrations(const std::string& dsn,
                                    const std::vector<Migration>& migrations);

}  // namespace gaze::metadata
