// GET /v2/images query parameters (contract §3.4): parsing into a ListImagesRequest; the
// `limit` parameter and the `first` / `next` links that every Glance list (images, tasks)
// shares.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
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

// A `limit` parameter: a non-negative integer (INVALID_ARGUMENT, 400, otherwise), clamped to
// kMaxPageSize.
absl::StatusOr<int32_t> ParseLimit(std::string_view value);

// `collection` (e.g. "/v2/images") plus every parameter except marker, percent-encoded.
std::string FirstLink(std::string_view collection, const QueryParams& query);
// The `first` link with marker=<last_id> appended.
std::string NextLink(std::string_view collection, const QueryParams& query,
                     const std::string& last_id);

}  // namespace gaze::gateway
