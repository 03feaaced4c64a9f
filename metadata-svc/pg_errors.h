// The one mapping from PostgreSQL/libpqxx failures to absl::Status. Everything that talks to
// PostgreSQL converts its exceptions here, so a SQLSTATE means the same code everywhere.
#pragma once

#include <exception>
#include <string_view>

#include "absl/status/status.h"

namespace gaze::metadata {

// SQLSTATE (five characters, e.g. "23505") -> status code:
//   23505 unique_violation                     ALREADY_EXISTS
//   40001 serialization_failure, 40P01 deadlock ABORTED (retry the transaction)
//   class 08, 57P01..57P03, class 53           UNAVAILABLE (connection lost, server down/full)
//   57014 query_canceled (statement timeout)   DEADLINE_EXCEEDED
//   class 22 data exception, 23502, 23514      INVALID_ARGUMENT (bad value from the caller)
//   23503 foreign_key_violation, 55P03         FAILED_PRECONDITION
//   anything else                              INTERNAL
absl::StatusCode CodeForSqlState(std::string_view sqlstate);

// True when the SQLSTATE says the session is gone: the connection must be rebuilt.
bool IsConnectionLoss(std::string_view sqlstate);

struct DbFailure {
  absl::Status status;
  // The connection that raised it is unusable: drop it.
  bool connection_lost = false;
  // The connection died during COMMIT: the transaction may have been applied, so it must not
  // be run again.
  bool outcome_unknown = false;
};

// Classifies an exception thrown by libpqxx (or anything else thrown inside a transaction).
DbFailure ClassifyDbException(const std::exception& e);

}  // namespace gaze::metadata
