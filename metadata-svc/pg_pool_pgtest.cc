// PgPool against a real PostgreSQL: reconnects after its backends are killed, maps errors,
// and bounds the wait for a free connection.
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "gtest/gtest.h"
#include "metadata-svc/pg_pool.h"
#include "metadata-svc/testing/test_database.h"

namespace gaze::metadata {
namespace {

using PgPoolTest = testing::PgTest;

absl::StatusOr<int> BackendPid(PgPool& pool) {
  return pool.Run<int>([](pqxx::connection_base& c) -> absl::StatusOr<int> {
    pqxx::work tx(c);
    return tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
  });
}

TEST_F(PgPoolTest, SurvivesTerminatedBackends) {
  auto pool = NewPool(2);
  auto before = BackendPid(*pool);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(pool->OpenConnections(), 1);
  // What a PostgreSQL restart or failover does to every session.
  EXPECT_EQ(Sql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()) t"),
            "1");
  auto after = BackendPid(*pool);
  ASSERT_TRUE(after.ok()) << after.status();  // dropped, rebuilt and retried transparently
  EXPECT_NE(*after, *before);
  EXPECT_EQ(pool->OpenConnections(), 1);
  // Prepared statements were re-prepared on the new connection.
  absl::Status s = pool->Run([](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_prepared("get_image", "00000000-0000-0000-0000-000000000000", true, "");
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(PgPoolTest, MapsDatabaseErrors) {
  auto pool = NewPool(1);
  absl::Status s = pool->Run([](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec("CREATE TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (1), (1)");
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  // A status returned by the callback passes through; the connection stays usable.
  s = pool->Run([](pqxx::connection_base&) { return absl::NotFoundError("mine"); });
  EXPECT_EQ(s, absl::NotFoundError("mine"));
  EXPECT_TRUE(BackendPid(*pool).ok());
}

TEST_F(PgPoolTest, UnreachableDatabaseIsUnavailable) {
  PgPool pool({.dsn = testing::WithDatabase(dsn(), "gaze_no_such_database"), .size = 1},
              [](pqxx::connection_base&) {});
  EXPECT_EQ(BackendPid(pool).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(PgPoolTest, WaitsForAFreeConnectionOnlyUntilTheTimeout) {
  PgPool pool({.dsn = dsn(), .size = 1, .acquire_timeout = absl::Milliseconds(100)},
              [](pqxx::connection_base&) {});
  std::promise<void> holding, release;
  std::thread holder([&] {
    (void)pool.Run([&](pqxx::connection_base&) {
      holding.set_value();
      release.get_future().wait();
      return absl::OkStatus();
    });
  });
  holding.get_future().wait();
  EXPECT_EQ(BackendPid(pool).status().code(), absl::StatusCode::kUnavailable);
  release.set_value();
  holder.join();
  EXPECT_TRUE(BackendPid(pool).ok());
}

}  // namespace
}  // namespace gaze::metadata
