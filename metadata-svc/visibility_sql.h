// Who may see which image, as SQL. The only place that knows the visibility rules, so that
// image sharing (members) can be added here once and reach every query.
//
// Every fragment refers to the image row under the alias `i`.
#pragma once

#include <string>
#include <string_view>

#include "gaze/metadata/v1/metadata.pb.h"
#include "metadata-svc/sql_params.h"

namespace gaze::metadata {

// True when the caller may see image `i`: not deleted, and the caller is an admin, or owns it,
// or it has no owner, or it is public or community. `is_admin` and `project` are SQL
// expressions of type boolean and text, normally placeholders ("$2::boolean", "$3::text").
std::string CanSeeImageSql(std::string_view is_admin, std::string_view project);

// The visibility part of ListImages' WHERE clause for `filter` (see VisibilityFilter):
//   non-admin P: DEFAULT = public or owned by P; PUBLIC/COMMUNITY/SHARED/PRIVATE = that
//                visibility among what P can see; ALL = everything P can see.
//   admin:       DEFAULT = everything but other projects' community images; ALL = everything;
//                otherwise that visibility.
// Deleted images are always excluded.
std::string ListVisibilitySql(const v1::Caller& caller, v1::VisibilityFilter filter,
                              SqlParams& params);

}  // namespace gaze::metadata
