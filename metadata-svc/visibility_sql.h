// Who may see which image, as SQL. The only place that knows the visibility rules (contract
// §9): what a caller may see (get, mutations, markers) and what its lists return.
//
// Every fragment refers to the image row under the alias `i`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gaze/metadata/v1/metadata.pb.h"
#include "metadata-svc/sql_params.h"

namespace gaze::metadata {

// True when the caller may see image `i`: not deleted, and the caller is an admin, or (the
// image is not pending_delete, which only admins see, as in Glance, and) the caller owns it,
// or it has no owner, or it is public or community, or it is shared and the caller's project
// is a member (of any member status). `is_admin` and `project` are SQL expressions of type
// boolean and text, normally placeholders ("$2::boolean", "$3::text").
std::string CanSeeImageSql(std::string_view is_admin, std::string_view project);

// True when the caller may see task `t`: admins see every task; a project sees the tasks it
// owns (those about its images) except delete_data tasks, which are internal and name the
// stored objects (Glance never shows locations to non-admins).
std::string CanSeeTaskSql(std::string_view is_admin, std::string_view project);

// What ListImages returns for `filter.visibility` and `filter.member_status`, as disjoint
// WHERE fragments whose union is the answer (each one can be answered from its own index;
// see list_query.cc). For a non-admin project P the candidates are public and community
// images, P's own, those without owner, and shared images P is a member of with the
// requested member status (default accepted):
//   DEFAULT   public, P's own (any visibility), and shared with P
//   PUBLIC / COMMUNITY / SHARED / PRIVATE   the candidates of that visibility
//   ALL       every candidate
// For an admin: DEFAULT is everything but other projects' community images, ALL everything,
// otherwise that visibility; the member status does not matter. Deleted images never appear.
std::vector<std::string> ListVisibilityBranches(const v1::Caller& caller,
                                                const v1::ImageFilter& filter, SqlParams& params);

}  // namespace gaze::metadata
