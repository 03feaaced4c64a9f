#include "metadata-svc/pg_errors.h"

#include <pqxx/except>

#include "gtest/gtest.h"

namespace gaze::metadata {
namespace {

TEST(PgErrorsTest, SqlStateTable) {
  struct Case {
    const char* sqlstate;
    absl::StatusCode code;
    bool connection_loss;
  };
  const Case cases[] = {
      {"23505", absl::StatusCode::kAlreadyExists, false},
      {"40001", absl::StatusCode::kAborted, false},
      {"40P01", absl::StatusCode::kAborted, false},
      {"08006", absl::StatusCode::kUnavailable, true},
      {"08001", absl::StatusCode::kUnavailable, true},
      {"57P01", absl::StatusCode::kUnavailable, true},
      {"57P03", absl::StatusCode::kUnavailable, true},
      {"53300", absl::StatusCode::kUnavailable, false},
      {"57014", absl::StatusCode::kDeadlineExceeded, false},
      {"22P02", absl::StatusCode::kInvalidArgument, false},
      {"22021", absl::StatusCode::kInvalidArgument, false},
      {"23514", absl::StatusCode::kInvalidArgument, false},
      {"23502", absl::StatusCode::kInvalidArgument, false},
      {"23503", absl::StatusCode::kFailedPrecondition, false},
      {"55P03", absl::StatusCode::kFailedPrecondition, false},
      {"42601", absl::StatusCode::kInternal, false},
      {"", absl::StatusCode::kInternal, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CodeForSqlState(c.sqlstate), c.code) << c.sqlstate;
    EXPECT_EQ(IsConnectionLoss(c.sqlstate), c.connection_loss) << c.sqlstate;
  }
}

TEST(PgErrorsTest, ClassifiesLibpqxxExceptions) {
  DbFailure f = ClassifyDbException(pqxx::unique_violation(
      "ERROR:  duplicate key value violates unique constraint\nDETAIL:  x", "INSERT", "23505"));
  EXPECT_EQ(f.status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(f.status.message(), "duplicate key value violates unique constraint");
  EXPECT_FALSE(f.connection_lost);

  f = ClassifyDbException(pqxx::broken_connection("server closed the connection"));
  EXPECT_EQ(f.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(f.connection_lost);
  EXPECT_FALSE(f.outcome_unknown);

  f = ClassifyDbException(pqxx::in_doubt_error("lost during commit"));
  EXPECT_EQ(f.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(f.connection_lost);
  EXPECT_TRUE(f.outcome_unknown);

  f = ClassifyDbException(pqxx::sql_error("FATAL:  terminating connection", "SELECT", "57P01"));
  EXPECT_EQ(f.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(f.connection_lost);

  EXPECT_EQ(ClassifyDbException(pqxx::deadlock_detected("deadlock")).status.code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(ClassifyDbException(std::runtime_error("boom")).status.code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace gaze::metadata
