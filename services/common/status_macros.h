// Early-return helpers for absl::Status / absl::StatusOr. Debian's Abseil (20220623)
// ships neither RETURN_IF_ERROR nor ASSIGN_OR_RETURN, so the project defines them once here.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GAZE_STATUS_CONCAT_INNER_(a, b) a##b
#define GAZE_STATUS_CONCAT_(a, b) GAZE_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define GAZE_RETURN_IF_ERROR(expr)                                \
  do {                                                            \
    if (absl::Status gaze_status_ = (expr); !gaze_status_.ok()) { \
      return gaze_status_;                                        \
    }                                                             \
  } while (0)

// GAZE_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define GAZE_ASSIGN_OR_RETURN(lhs, expr) \
  GAZE_ASSIGN_OR_RETURN_IMPL_(GAZE_STATUS_CONCAT_(gaze_statusor_, __LINE__), lhs, expr)
#define GAZE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()
