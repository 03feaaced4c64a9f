// ListImages SQL builder (see list_query.h).
//
// Keyset pagination: the next page holds the rows strictly after the marker row in sort
// order. With one direction for all keys that is a row comparison,
//   (k1, k2, ...) > (SELECT m1, m2, ... FROM images mk WHERE mk.id = $marker)
// with mixed directions the expanded form (k1 > m1) OR (k1 = m1 AND k2 < m2) OR ..., each mN a
// scalar subquery. The marker's values are read in the same statement, so they need no
// conversion to and from text, and as uncorrelated subqueries they become InitPlans: computed
// once, then constants to the planner, which answers the default order from the
// (created_at, id) index ("Index Cond: ROW(created_at, id) < ROW($0, $1)"). A join against the
// marker row instead would filter the whole index up to the marker.
#include "metadata-svc/list_query.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "metadata-svc/enums.h"
#include "metadata-svc/json_codec.h"
#include "metadata-svc/sql_params.h"
#include "metadata-svc/visibility_sql.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& in) {
  return std::vector<std::string>(in.begin(), in.end());
}

void AddAnyOf(const char* column, const char* type,
              const google::protobuf::RepeatedPtrField<std::string>& values, SqlParams& params,
              std::vector<std::string>& where) {
  if (values.empty()) return;
  where.push_back(absl::StrCat(column, " = ANY(", params.Add(PgArrayLiteral(ToVector(values))),
                               "::", type, "[])"));
}

absl::Status AddFilters(const v1::ImageFilter& f, SqlParams& params,
                        std::vector<std::string>& where) {
  if (!f.ids().empty()) {
    // A value that is not a UUID names no image; dropping it keeps the uuid[] cast valid.
    google::protobuf::RepeatedPtrField<std::string> ids;
    for (const std::string& id : f.ids()) {
      if (IsUuid(id)) ids.Add(std::string(id));
    }
    if (ids.empty()) where.push_back("FALSE");
    AddAnyOf("i.id", "uuid", ids, params, where);
  }
  AddAnyOf("i.name", "text", f.names(), params, where);
  if (!f.statuses().empty()) {
    google::protobuf::RepeatedPtrField<std::string> names;
    for (int s : f.statuses()) {
      const char* name = ImageStatusName(static_cast<v1::ImageStatus>(s));
      if (name == nullptr) return absl::InvalidArgumentError(absl::StrCat("Invalid status: ", s));
      names.Add(name);
    }
    AddAnyOf("i.status", "text", names, params, where);
  }
  AddAnyOf("i.disk_format", "text", f.disk_formats(), params, where);
  AddAnyOf("i.container_format", "text", f.container_formats(), params, where);
  if (f.has_owner()) where.push_back(absl::StrCat("i.owner = ", params.Add(f.owner()), "::text"));
  if (!f.tags().empty()) {
    where.push_back(
        absl::StrCat("i.tags @> ", params.Add(PgArrayLiteral(ToVector(f.tags()))), "::text[]"));
  }
  if (!f.properties().empty()) {
    where.push_back(
        absl::StrCat("i.properties @> ", params.Add(PropertiesToJson(f.properties())), "::jsonb"));
  }
  if (f.has_size_min()) {
    where.push_back(
        absl::StrCat("i.size >= ", params.Add(std::to_string(f.size_min())), "::bigint"));
  }
  if (f.has_size_max()) {
    where.push_back(
        absl::StrCat("i.size <= ", params.Add(std::to_string(f.size_max())), "::bigint"));
  }
  if (f.has_protected_()) {
    where.push_back(
        absl::StrCat("i.protected = ", params.Add(f.protected_() ? "true" : "false"), "::boolean"));
  }
  if (f.has_os_hidden()) {
    where.push_back(
        absl::StrCat("i.os_hidden = ", params.Add(f.os_hidden() ? "true" : "false"), "::boolean"));
  } else {
    where.push_back("NOT i.os_hidden");
  }
  return absl::OkStatus();
}

// Rows strictly after the marker row (the image whose id is the SQL expression `marker`) in
// the order `sort`.
std::string AfterMarkerSql(const std::vector<v1::SortKey>& sort, const std::string& marker) {
  auto key = [&](size_t n) { return SortExpression(sort[n].field(), "i"); };
  auto from_marker = absl::StrCat(" FROM images mk WHERE mk.id = ", marker, "::uuid)");
  auto mark = [&](size_t n) {
    return absl::StrCat("(SELECT ", SortExpression(sort[n].field(), "mk"), from_marker);
  };
  auto op = [&](size_t n) { return sort[n].descending() ? " < " : " > "; };
  bool one_direction = std::all_of(sort.begin(), sort.end(), [&](const v1::SortKey& k) {
    return k.descending() == sort.front().descending();
  });
  if (one_direction) {
    std::vector<std::string> keys, marks;
    for (size_t n = 0; n < sort.size(); ++n) {
      keys.push_back(key(n));
      marks.push_back(SortExpression(sort[n].field(), "mk"));
    }
    return absl::StrCat("(", absl::StrJoin(keys, ", "), ")", op(0), "(SELECT ",
                        absl::StrJoin(marks, ", "), from_marker);
  }
  std::vector<std::string> alternatives;
  for (size_t n = 0; n < sort.size(); ++n) {
    std::vector<std::string> terms;
    for (size_t e = 0; e < n; ++e) terms.push_back(absl::StrCat(key(e), " = ", mark(e)));
    terms.push_back(absl::StrCat(key(n), op(n), mark(n)));
    alternatives.push_back(absl::StrCat("(", absl::StrJoin(terms, " AND "), ")"));
  }
  return absl::StrCat("(", absl::StrJoin(alternatives, " OR "), ")");
}

}  // namespace

absl::StatusOr<std::vector<v1::SortKey>> EffectiveSort(
    const google::protobuf::RepeatedPtrField<v1::SortKey>& requested) {
  std::vector<v1::SortKey> sort;
  auto has = [&](v1::SortField f) {
    return std::any_of(sort.begin(), sort.end(),
                       [&](const v1::SortKey& k) { return k.field() == f; });
  };
  for (const v1::SortKey& k : requested) {
    if (k.field() == v1::SORT_FIELD_UNSPECIFIED || !v1::SortField_IsValid(k.field())) {
      return absl::InvalidArgumentError(absl::StrCat("Invalid sort key: ", k.field()));
    }
    if (!has(k.field())) sort.push_back(k);
  }
  if (sort.empty()) {
    v1::SortKey k;
    k.set_field(v1::SORT_FIELD_CREATED_AT);
    k.set_descending(true);
    sort.push_back(k);
  }
  bool descending = sort.front().descending();
  for (v1::SortField tie : {v1::SORT_FIELD_CREATED_AT, v1::SORT_FIELD_ID}) {
    if (has(tie)) continue;
    v1::SortKey k;
    k.set_field(tie);
    k.set_descending(descending);
    sort.push_back(k);
  }
  return sort;
}

std::string SortExpression(v1::SortField field, const std::string& a) {
  switch (field) {
    case v1::SORT_FIELD_NAME:
      return absl::StrCat("COALESCE(", a, ".name, '')");
    case v1::SORT_FIELD_STATUS:
      return absl::StrCat(a, ".status");
    case v1::SORT_FIELD_CONTAINER_FORMAT:
      return absl::StrCat("COALESCE(", a, ".container_format, '')");
    case v1::SORT_FIELD_DISK_FORMAT:
      return absl::StrCat("COALESCE(", a, ".disk_format, '')");
    case v1::SORT_FIELD_SIZE:
      return absl::StrCat("COALESCE(", a, ".size, -1)");
    case v1::SORT_FIELD_ID:
      return absl::StrCat(a, ".id");
    case v1::SORT_FIELD_UPDATED_AT:
      return absl::StrCat(a, ".updated_at");
    default:  // EffectiveSort admits no other value.
      return absl::StrCat(a, ".created_at");
  }
}

absl::StatusOr<ListQuery> BuildListQuery(const v1::ListImagesRequest& request,
                                         const ListLimits& limits, const std::string& columns) {
  if (request.limit() < 0) {
    return absl::InvalidArgumentError("limit param must be positive");
  }
  const v1::ImageFilter& filter = request.filter();
  if (!v1::VisibilityFilter_IsValid(filter.visibility())) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid visibility filter: ", filter.visibility()));
  }
  auto sort = EffectiveSort(request.sort());
  if (!sort.ok()) return sort.status();

  ListQuery q;
  q.limit =
      request.limit() == 0 ? limits.default_limit : std::min(request.limit(), limits.max_limit);
  SqlParams params;
  std::vector<std::string> where;
  where.push_back(ListVisibilitySql(request.caller(), filter.visibility(), params));
  where.push_back("i.status <> 'killed'");
  if (absl::Status s = AddFilters(filter, params, where); !s.ok()) return s;

  if (!request.marker().empty()) {
    if (!IsUuid(request.marker())) return absl::InvalidArgumentError("marker not found");
    where.push_back(AfterMarkerSql(*sort, params.Add(request.marker())));
  }

  std::vector<std::string> order;
  for (const v1::SortKey& k : *sort) {
    order.push_back(
        absl::StrCat(SortExpression(k.field(), "i"), k.descending() ? " DESC" : " ASC"));
  }
  q.sql = absl::StrCat("SELECT ", columns, " FROM images i WHERE ", absl::StrJoin(where, " AND "),
                       " ORDER BY ", absl::StrJoin(order, ", "), " LIMIT ",
                       params.Add(std::to_string(q.limit)), "::bigint");
  q.params = params.values();
  return q;
}

}  // namespace gaze::metadata
