// Visibility predicates (see visibility_sql.h).
#include "metadata-svc/visibility_sql.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gaze::metadata {
namespace {

absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr const char* kEveryVisibility[] = {"community", "private", "public", "shared"};

// Image `i` is shared and `project` has a live member row on it; `status` is an extra
// condition on the member status ("" for any). Inside an OR (CanSeeImageSql) it is probed for
// one image at a time through the (image_id, member) unique index; at the top level of a list
// branch the planner turns it into a semi-join that starts from the member's own index.
std::string SharedWithSql(std::string_view project, std::string_view status) {
  return absl::StrCat(
      "i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = i.id "
      "AND m.member = ",
      A(project), " AND NOT m.deleted", A(status), ")");
}

std::string VisibilityIn(const std::vector<const char*>& names) {
  if (names.size() == 1) return absl::StrCat("i.visibility = '", names[0], "'");
  return absl::StrCat("i.visibility IN ('", absl::StrJoin(names, "', '"), "')");
}

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

const char* MemberStatusCondition(v1::MemberStatusFilter filter) {
  switch (filter) {
    case v1::MEMBER_STATUS_FILTER_PENDING:
      return " AND m.status = 'pending'";
    case v1::MEMBER_STATUS_FILTER_REJECTED:
      return " AND m.status = 'rejected'";
    case v1::MEMBER_STATUS_FILTER_ALL:
      return "";
    default:
      return " AND m.status = 'accepted'";
  }
}

}  // namespace

std::string CanSeeImageSql(std::string_view is_admin, std::string_view project) {
  return absl::StrCat("(NOT i.deleted AND (", A(is_admin),
                      " OR (i.status <> 'pending_delete' AND (i.owner = ", A(project),
                      " OR i.owner IS NULL OR i.visibility IN ('public', 'community') OR (",
                      SharedWithSql(project, ""), ")))))");
}

std::string CanSeeTaskSql(std::string_view is_admin, std::string_view project) {
  return absl::StrCat("(", A(is_admin), " OR (t.owner = ", A(project),
                      " AND t.type <> 'delete_data'))");
}

std::vector<std::string> ListVisibilityBranches(const v1::Caller& caller,
                                                const v1::ImageFilter& filter, SqlParams& params) {
  const char* only = FilterVisibility(filter.visibility());
  const bool all = filter.visibility() == v1::VISIBILITY_FILTER_ALL;
  if (caller.is_admin()) {
    if (only != nullptr) return {absl::StrCat("NOT i.deleted AND i.visibility = '", only, "'")};
    if (all) return {"NOT i.deleted"};
    return {absl::StrCat("NOT i.deleted AND (i.visibility <> 'community' OR i.owner = ",
                         params.Add(caller.project_id()), "::text)")};
  }

  // Bound only when a branch refers to it: an unused parameter would have no type.
  std::string project_param;
  auto project = [&]() -> const std::string& {
    if (project_param.empty()) project_param = params.Add(caller.project_id()) + "::text";
    return project_param;
  };
  const bool by_default = only == nullptr && !all;
  auto wanted = [&](const char* v) { return only == nullptr || std::string_view(only) == v; };
  // Images anyone sees (public, and community unless by default), images the project owns
  // with any other visibility, ownerless ones (never by default), and shared with it.
  std::vector<const char*> everyone, own, ownerless;
  for (const char* v : kEveryVisibility) {
    if (!wanted(v)) continue;
    bool anyone =
        std::string_view(v) == "public" || (!by_default && std::string_view(v) == "community");
    (anyone ? everyone : own).push_back(v);
    if (!by_default && (std::string_view(v) == "shared" || std::string_view(v) == "private")) {
      ownerless.push_back(v);
    }
  }
  std::vector<std::string> branches;
  if (!everyone.empty()) branches.push_back("NOT i.deleted AND " + VisibilityIn(everyone));
  if (!own.empty()) {
    branches.push_back(
        absl::StrCat("NOT i.deleted AND i.owner = ", project(), " AND ", VisibilityIn(own)));
  }
  if (!ownerless.empty()) {
    branches.push_back("NOT i.deleted AND i.owner IS NULL AND " + VisibilityIn(ownerless));
  }
  if (wanted("shared")) {
    // Ownerless shares belong here only when no ownerless branch lists them already.
    const char* not_own = ownerless.empty() ? "i.owner IS DISTINCT FROM " : "i.owner <> ";
    branches.push_back(
        absl::StrCat("NOT i.deleted AND ", not_own, project(), " AND ",
                     SharedWithSql(project(), MemberStatusCondition(filter.member_status()))));
  }
  return branches;
}

}  // namespace gaze::metadata
