// ListTasks SQL builder (see task_list_query.h).
#include "metadata-svc/task_list_query.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "metadata-svc/enums.h"
#include "metadata-svc/sql_params.h"
#include "metadata-svc/visibility_sql.h"
#include "services/common/ids.h"

namespace gaze::metadata {

absl::StatusOr<TaskListQuery> BuildTaskListQuery(const v1::ListTasksRequest& request,
                                                 const ListLimits& limits,
                                                 const std::string& columns) {
  if (request.limit() < 0) return absl::InvalidArgumentError("limit param must be positive");
  const v1::TaskType type = request.has_type() ? request.type() : v1::TASK_TYPE_IMPORT;
  const char* type_name = TaskTypeName(type);
  if (type_name == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid task type: ", request.type()));
  }
  const char* status_name = nullptr;
  if (request.has_status()) {
    status_name = TaskStatusName(request.status());
    if (status_name == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("Invalid task status: ", request.status()));
    }
  }
  if (!request.image_id().empty() && !IsUuid(request.image_id())) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid image id: ", request.image_id()));
  }
  if (!request.marker().empty() && !IsUuid(request.marker())) {
    return absl::InvalidArgumentError("marker not found");
  }

  TaskListQuery q;
  q.limit =
      request.limit() == 0 ? limits.default_limit : std::min(request.limit(), limits.max_limit);
  SqlParams params;
  std::vector<std::string> where;
  where.push_back(absl::StrCat("t.type = ", params.Add(type_name), "::text"));
  where.push_back("(t.expires_at IS NULL OR t.expires_at > now())");
  if (!request.caller().is_admin()) {
    where.push_back(CanSeeTaskSql("false", params.Add(request.caller().project_id()) + "::text"));
  }
  if (!request.image_id().empty()) {
    where.push_back(absl::StrCat("t.image_id = ", params.Add(request.image_id()), "::uuid"));
  }
  if (status_name != nullptr) {
    where.push_back(absl::StrCat("t.status = ", params.Add(status_name), "::text"));
  }
  const char* dir = request.ascending() ? "ASC" : "DESC";
  if (!request.marker().empty()) {
    where.push_back(absl::StrCat("(t.created_at, t.id) ", request.ascending() ? ">" : "<",
                                 " (SELECT mk.created_at, mk.id FROM tasks mk WHERE mk.id = ",
                                 params.Add(request.marker()), "::uuid)"));
  }
  q.sql = absl::StrCat("SELECT ", columns, " FROM tasks t WHERE ", absl::StrJoin(where, " AND "),
                       " ORDER BY t.created_at ", dir, ", t.id ", dir, " LIMIT ",
                       params.Add(std::to_string(q.limit)), "::bigint");
  q.params = params.values();
  return q;
}

}  // namespace gaze::metadata
