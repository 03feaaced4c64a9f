// PgTest (see test_database.h).
#include "metadata-svc/testing/test_database.h"

#include <algorithm>
#include <cstdlib>
#include <pqxx/pqxx>

#include "metadata-svc/migrations.h"
#include "metadata-svc/migrator.h"
#include "metadata-svc/pg_statements.h"
#include "services/common/ids.h"

namespace gaze::metadata::testing {

std::string WithDatabase(const std::string& dsn, const std::string& database) {
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (dsn.rfind(scheme, 0) != 0) continue;
    size_t authority = std::string(scheme).size();
    size_t query = dsn.find('?', authority);
    size_t path = dsn.find('/', authority);
    if (path == std::string::npos || path > query) path = std::min(query, dsn.size());
    std::string rest = query == std::string::npos ? "" : dsn.substr(query);
    return dsn.substr(0, path) + "/" + database + rest;
  }
  return dsn + " dbname=" + database;  // key=value form: the last dbname wins
}

void PgTest::SetUp() {
  const char* env = std::getenv("GAZE_TEST_PG_DSN");
  if (env == nullptr || *env == '\0') {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << "GAZE_TEST_PG_DSN is not set (required when CI=true)";
    }
    GTEST_SKIP() << "GAZE_TEST_PG_DSN is not set";
  }
  admin_dsn_ = env;
  std::string id = NewUuid();
  id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
  database_ = "gaze_t_" + id;
  {
    pqxx::connection conn(admin_dsn_);
    pqxx::nontransaction tx(conn);
    tx.exec("CREATE DATABASE " + tx.quote_name(database_));
  }
  dsn_ = WithDatabase(admin_dsn_, database_);
  if (MigrateOnSetUp()) {
    auto migrations = ParseMigrations(EmbeddedMigrationFiles());
    ASSERT_TRUE(migrations.ok()) << migrations.status();
    auto applied = ApplyMigrations(dsn_, *migrations);
    ASSERT_TRUE(applied.ok()) << applied.status();
  }
}

void PgTest::TearDown() {
  if (database_.empty()) return;
  pqxx::connection conn(admin_dsn_);
  pqxx::nontransaction tx(conn);
  // The test's own sessions (e.g. a pool still alive in the fixture) would block the drop.
  // DROP ... WITH (FORCE) is no substitute: it also needs to terminate autovacuum workers,
  // which a non-superuser may not; a plain DROP cancels those itself and waits up to 5 s for
  // the terminated sessions to go away.
  tx.exec_params(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()",
      database_);
  tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(database_));
}

std::string PgTest::Sql(const std::string& sql) {
  pqxx::connection conn(dsn_);
  pqxx::work tx(conn);
  pqxx::result r = tx.exec(sql);
  tx.commit();
  if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

std::unique_ptr<PgPool> PgTest::NewPool(int size) {
  return std::make_unique<PgPool>(
      PgPool::Options{.dsn = dsn_, .size = size, .acquire_timeout = absl::Seconds(5)},
      stmt::PrepareStatements);
}

}  // namespace gaze::metadata::testing
