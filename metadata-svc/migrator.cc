// ApplyMigrations (see migrator.h).
#include "metadata-svc/migrator.h"

#include <pqxx/pqxx>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "metadata-svc/pg_errors.h"
#include "services/common/log.h"

namespace gaze::metadata {
namespace {

// pg_advisory_lock key shared by every metadata-svc; the bytes spell "gazemeta".
constexpr int64_t kMigrationLockKey = 0x67617a656d657461;

}  // namespace

absl::StatusOr<int> ApplyMigrations(const std::string& dsn,
                                    const std::vector<Migration>& migrations) {
  int current = 0;
  try {
    pqxx::connection conn(dsn);
    // Session-level lock: released by the unlock below or, if this process dies, when its
    // connection closes.
    pqxx::nontransaction(conn).exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    {
      pqxx::work tx(conn);
      tx.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          "version integer PRIMARY KEY, name text NOT NULL, "
          "applied_at timestamptz NOT NULL DEFAULT now())");
      tx.commit();
    }
    std::set<int> applied;
    {
      pqxx::read_transaction tx(conn);
      for (const pqxx::row& row : tx.exec("SELECT version FROM schema_migrations")) {
        applied.insert(row[0].as<int>());
      }
    }
    int count = 0;
    for (const Migration& m : migrations) {
      if (applied.count(m.version) > 0) continue;
      current = m.version;
      pqxx::work tx(conn);
      tx.exec(std::string(m.sql));
      tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                     m.name);
      tx.commit();
      ++count;
      log::Info("migration applied").Field("version", m.version).Field("name", m.name);
    }
    current = 0;
    pqxx::nontransaction(conn).exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    return count;
  } catch (const std::exception& e) {
    absl::Status s = ClassifyDbException(e).status;
    std::string where =
        current == 0 ? "migrating the database" : absl::StrCat("applying migration ", current);
    return absl::Status(s.code(), absl::StrCat(where, ": ", s.message()));
  }
}

}  // namespace gaze::metadata
