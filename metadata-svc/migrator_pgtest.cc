// ApplyMigrations against a real PostgreSQL: idempotent, and safe when replicas race.
#include <thread>

#include "gtest/gtest.h"
#include "metadata-svc/migrator.h"
#include "metadata-svc/testing/test_database.h"

namespace gaze::metadata {
namespace {

class MigratorTest : public testing::PgTest {
 protected:
  bool MigrateOnSetUp() const override { return false; }

  std::vector<Migration> Embedded() { return ParseMigrations(EmbeddedMigrationFiles()).value(); }
};

TEST_F(MigratorTest, AppliesOnceAndRecordsVersions) {
  auto migrations = Embedded();
  auto applied = ApplyMigrations(dsn(), migrations);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, static_cast<int>(migrations.size()));
  EXPECT_EQ(ApplyMigrations(dsn(), migrations).value(), 0);
  EXPECT_EQ(Sql("SELECT count(*) FROM schema_migrations"), std::to_string(migrations.size()));
  EXPECT_EQ(Sql("SELECT name FROM schema_migrations WHERE version = 1"), "initial");
  EXPECT_EQ(Sql("SELECT count(*) FROM images"), "0");
}

TEST_F(MigratorTest, ConcurrentReplicasMigrateOnce) {
  auto migrations = Embedded();
  absl::StatusOr<int> a, b;
  std::thread t1([&] { a = ApplyMigrations(dsn(), migrations); });
  std::thread t2([&] { b = ApplyMigrations(dsn(), migrations); });
  t1.join();
  t2.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a + *b, static_cast<int>(migrations.size()));
}

TEST_F(MigratorTest, FailedMigrationLeavesNoTraceAndSaysWhich) {
  std::vector<Migration> migrations = {{1, "good", "CREATE TABLE a (x int)"},
                                       {2, "bad", "CREATE TABLE b (x int); SELECT nope"}};
  auto applied = ApplyMigrations(dsn(), migrations);
  EXPECT_FALSE(applied.ok());
  EXPECT_NE(std::string(applied.status().message()).find("applying migration 2"), std::string::npos)
      << applied.status();
  EXPECT_EQ(Sql("SELECT string_agg(version::text, ',') FROM schema_migrations"), "1");
  EXPECT_EQ(Sql("SELECT count(*) FROM pg_tables WHERE tablename = 'b'"), "0");
}

TEST_F(MigratorTest, UnreachableDatabaseIsUnavailable) {
  auto applied = ApplyMigrations(testing::WithDatabase(dsn(), "gaze_no_such_database"), Embedded());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kUnavailable) << applied.status();
}

TEST(WithDatabaseTest, ReplacesTheDatabase) {
  EXPECT_EQ(testing::WithDatabase("postgresql://u:p@h:1/db", "x"), "postgresql://u:p@h:1/x");
  EXPECT_EQ(testing::WithDatabase("postgresql://u:p@h:1/db?sslmode=disable", "x"),
            "postgresql://u:p@h:1/x?sslmode=disable");
  EXPECT_EQ(testing::WithDatabase("postgres://h", "x"), "postgres://h/x");
  EXPECT_EQ(testing::WithDatabase("host=h dbname=db", "x"), "host=h dbname=db dbname=x");
}

}  // namespace
}  // namespace gaze::metadata
