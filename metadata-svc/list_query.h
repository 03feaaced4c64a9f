// Turns a ListImagesRequest into one SQL statement: visibility, filters, sort order and keyset
// pagination all in SQL, every value a bound parameter. Pure logic, no database access. A
// marker that does not exist or that the caller cannot see makes the page empty; the caller
// tells those apart from the end of the list (Glance: 400 and 403).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

struct ListLimits {
  int default_limit = 25;
  int max_limit = 1000;
};

struct ListQuery {
  std::string sql;
  std::vector<std::string> params;  // text values of $1..$N
  int limit = 0;                    // effective page size
  // True when one plan suits every value of the parameters: the statement may be prepared
  // and its generic plan reused (PostgreSQL plans it once instead of on every page, which
  // was most of a page's database time). False when a parameter's value decides the plan
  // (tags unless common, properties, ranges, several names): those keep a custom plan per
  // call.
  bool plan_cacheable = false;
};

// The sort keys actually applied: the request's (default created_at desc) with duplicates
// dropped, then created_at and id appended, when absent, in the direction of the first key.
// INVALID_ARGUMENT for an unknown field.
absl::StatusOr<std::vector<v1::SortKey>> EffectiveSort(
    const google::protobuf::RepeatedPtrField<v1::SortKey>& requested);

// The sort expression of `field` on the image row under `alias`. Nullable columns are
// COALESCEd so that NULL sorts (and compares) as the smallest value.
std::string SortExpression(v1::SortField field, const std::string& alias);

// What the caller knows about the data that decides the query's shape.
struct ListPlanHints {
  // When the request filters on exactly one tag and many images carry it (CommonTags): that
  // tag as an SQL literal, quoted by the connection. The filter is then written with the
  // literal, in a form no index answers: the plan walks the list's own order until the page
  // is full (the plan PostgreSQL picks for such a tag anyway), and with no parameter left
  // whose value would change it, the statement is prepared once and its generic plan reused
  // instead of planned per call (planning, with the cost of the tags' GIN index, took longer
  // than the walk). A rare tag stays a parameter with a per-call plan, which may use the GIN
  // index.
  std::string common_tag_literal;
};

// Selects `columns` (which refer to the image row as `i`). INVALID_ARGUMENT for a negative
// limit, an unknown sort key, status or visibility filter, or a marker that is not a UUID
// (it cannot name an image: "marker not found").
absl::StatusOr<ListQuery> BuildListQuery(const v1::ListImagesRequest& request,
                                         const ListLimits& limits, const std::string& columns,
                                         const ListPlanHints& hints = {});

}  // namespace gaze::metadata
