// Test support for the PostgreSQL integration tests (ctest label "pg"): every test gets a
// database of its own, created from GAZE_TEST_PG_DSN (whose role needs CREATEDB) and dropped
// afterwards. Without GAZE_TEST_PG_DSN the tests are skipped, or fail when CI == "true".
#pragma once

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "metadata-svc/pg_pool.h"

namespace gaze::metadata::testing {

// `dsn` with its database replaced by `database` (URI or key=value form).
std::string WithDatabase(const std::string& dsn, const std::string& database);

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Whether SetUp applies the embedded migrations to the new database.
  virtual bool MigrateOnSetUp() const { return true; }

  const std::string& dsn() const { return dsn_; }
  // Runs `sql` in its own transaction and returns the first column of the first row as text
  // ("" when there is no row or it is NULL).
  std::string Sql(const std::string& sql);
  // A pool on the test database with the service's prepared statements.
  std::unique_ptr<PgPool> NewPool(int size = 4);

 private:
  std::string admin_dsn_;
  std::string database_;
  std::string dsn_;
};

}  // namespace gaze::metadata::testing
