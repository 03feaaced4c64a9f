// SQLSTATE and libpqxx exception mapping (see pg_errors.h for the table).
#include "metadata-svc/pg_errors.h"

#include <pqxx/except>
#include <string>

#include "absl/strings/str_cat.h"

namespace gaze::metadata {
namespace {

// libpq messages look like "ERROR:  duplicate key value ...\nDETAIL:  ...": keep the first
// line without the severity, which is what a caller can act on.
std::string FirstLine(std::string_view what) {
  for (std::string_view prefix : {"ERROR:  ", "FATAL:  "}) {
    if (what.starts_with(prefix)) what.remove_prefix(prefix.size());
  }
  auto nl = what.find('\n');
  return std::string(what.substr(0, nl));
}

}  // namespace

absl::StatusCode CodeForSqlState(std::string_view s) {
  if (s.size() != 5) return absl::StatusCode::kInternal;
  std::string_view cls = s.substr(0, 2);
  if (s == "23505") return absl::StatusCode::kAlreadyExists;
  if (s == "40001" || s == "40P01") return absl::StatusCode::kAborted;
  if (IsConnectionLoss(s) || cls == "53") return absl::StatusCode::kUnavailable;
  if (s == "57014") return absl::StatusCode::kDeadlineExceeded;
  if (cls == "22" || s == "23502" || s == "23514") return absl::StatusCode::kInvalidArgument;
  if (s == "23503" || s == "55P03") return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

bool IsConnectionLoss(std::string_view s) {
  return s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03";
}

DbFailure ClassifyDbException(const std::exception& e) {
  std::string line = FirstLine(e.what());
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    absl::StatusCode code = CodeForSqlState(state);
    std::string msg = code == absl::StatusCode::kInternal
                          ? absl::StrCat("database error (SQLSTATE ", state, "): ", line)
                          : line;
    return {absl::Status(code, msg), IsConnectionLoss(state)};
  }
  // libpqxx 6.4 raises these without a SQLSTATE.
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return {absl::UnavailableError(absl::StrCat("database unreachable: ", line)), true};
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return {absl::UnavailableError(
                absl::StrCat("database connection lost while committing; the change may or "
                             "may not have been applied: ",
                             line)),
            true, true};
  }
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr ||
      dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) {
    return {absl::AbortedError(line), false};
  }
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return {absl::UnavailableError(line), true, true};
  }
  return {absl::InternalError(absl::StrCat("database error: ", line)), false};
}

}  // namespace gaze::metadata
