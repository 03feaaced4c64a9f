// Turns a ListTasksRequest into one SQL statement: scope, visibility, filters, order and keyset
// pagination in SQL, every value a bound parameter. Pure logic, no database access; the caller
// checks beforehand that the image (when given) and the marker are visible.
//
// Each scope is answered from its own index in created_at order: one image's tasks from
// tasks_image_id_idx, a project's from tasks_owner_idx (owner, created_at, id), an admin's
// from tasks_created_at_idx (created_at, id).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"
#include "metadata-svc/list_query.h"

namespace gaze::metadata {

struct TaskListQuery {
  std::string sql;
  std::vector<std::string> params;  // text values of $1..$N
  int limit = 0;                    // effective page size
};

// Selects `columns` (which refer to the task row as `t`): the unexpired tasks of the request's
// type (IMPORT unless given) that the caller may see (CanSeeTaskSql), of one image when
// image_id is set, by created_at (newest first unless ascending) then id. INVALID_ARGUMENT for
// a negative limit, an unknown status or type, or an image id or marker that is not a UUID
// ("marker not found").
absl::StatusOr<TaskListQuery> BuildTaskListQuery(const v1::ListTasksRequest& request,
                                                 const ListLimits& limits,
                                                 const std::string& columns);

}  // namespace gaze::metadata
