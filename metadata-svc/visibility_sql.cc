// Visibility predicates (see visibility_sql.h).
#include "metadata-svc/visibility_sql.h"

#include "absl/strings/str_cat.h"

namespace gaze::metadata {
namespace {

absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

const char* FilterVisibility(v1::VisibilityFilter filter) {
  switch (filter) {
    case v1::VISIBILITY_FILTER_PUBLIC:
      return "public";
    case v1::VISIBILITY_FILTER_COMMUNITY:
      return "community";
    case v1::VISIBILITY_FILTER_SHARED:
      return "shared";
    case v1::VISIBILITY_FILTER_PRIVATE:
      return "private";
    default:
      return nullptr;
  }
}

}  // namespace

std::string CanSeeImageSql(std::string_view is_admin, std::string_view project) {
  return absl::StrCat("(NOT i.deleted AND (", A(is_admin), " OR i.owner = ", A(project),
                      " OR i.owner IS NULL OR i.visibility IN ('public', 'community')))");
}

std::string ListVisibilitySql(const v1::Caller& caller, v1::VisibilityFilter filter,
                              SqlParams& params) {
  std::string is_admin = params.Add(caller.is_admin() ? "true" : "false") + "::boolean";
  std::string project = params.Add(caller.project_id()) + "::text";
  std::string visible = CanSeeImageSql(is_admin, project);
  if (const char* only = FilterVisibility(filter)) {
    return absl::StrCat(visible, " AND i.visibility = ", params.Add(only));
  }
  if (filter == v1::VISIBILITY_FILTER_ALL) return visible;
  // DEFAULT (and any value this build does not know).
  if (caller.is_admin()) {
    return absl::StrCat(visible, " AND (i.visibility <> 'community' OR i.owner = ", project, ")");
  }
  return absl::StrCat(visible, " AND (i.visibility = 'public' OR i.owner = ", project, ")");
}

}  // namespace gaze::metadata
