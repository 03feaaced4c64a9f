// The schema migrations of metadata-svc: SQL files under metadata-svc/migrations/, named
// NNNN_name.sql, embedded into the binary at build time (see embed_migrations.cmake).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace gaze::metadata {

// One embedded file, as the build found it.
struct MigrationFile {
  std::string_view file_name;  // "0001_initial.sql"
  std::string_view sql;
};

struct Migration {
  int version = 0;   // 1 for "0001_initial.sql"
  std::string name;  // "initial"
  std::string_view sql;
};

// Defined in the generated embedded_migrations.cc.
const std::vector<MigrationFile>& EmbeddedMigrationFiles();

// Validates file names (four digits, '_', a name, ".sql"), rejects duplicate versions and
// returns the migrations in ascending version order.
absl::StatusOr<std::vector<Migration>> ParseMigrations(const std::vector<MigrationFile>& files);

}  // namespace gaze::metadata
