// GET /v2/images query parameters (contract §3.4): parsing into a ListImagesRequest, and the
// `first` / `next` links of the response.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::gateway {

namespace v1 = ::gaze::metadata::v1;
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Glance's api_limit_max: larger limits are clamped. Without a limit, metadata-svc's page
// size applies (Glance's limit_param_default, 25).
inline constexpr int kMaxPageSize = 1000;

struct ListQuery {
  v1::ListImagesRequest request;  // the caller fills in request.caller
  // The answer is an empty page, known without asking metadata-svc: limit=0, or a status
  // filter naming only statuses that do not exist (Glance compares the column and finds
  // nothing).
  bool empty_page = false;
};

// INVALID_ARGUMENT (400) for bad values.
absl::StatusOr<ListQuery> ParseListQuery(const QueryParams& query);

// "/v2/images" plus every parameter except marker, percent-encoded.
std::string FirstLink(const QueryParams& query);
// The `first` link with marker=<last_id> appended.
std::string NextLink(const QueryParams& query, const std::string& last_id);

}  // namespace gaze::gateway
