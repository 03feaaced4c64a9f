// PATCH /v2/images/{id}: Glance's JSON-patch dialects (contract §3.5) turned into one
// UpdateImage call. The operations are applied in order to a copy of the current image, so a
// failing operation changes nothing; the result is expressed as a field mask plus property
// changes, guarded by the image version the patch was computed from.
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "api-gateway/image_json.h"

namespace gaze::gateway {

enum class PatchDialect {
  kV21,  // application/openstack-images-v2.1-json-patch: {"op","path","value"}
  kV20,  // application/openstack-images-v2.0-json-patch: {"add"|"replace"|"remove": path}
};

// The dialect for a Content-Type (parameters such as charset are ignored), or nullopt: 415.
std::optional<PatchDialect> PatchDialectFor(std::string_view content_type);

inline constexpr std::string_view kAcceptPatch =
    "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch";

// Applies `body` to `current`. Errors: INVALID_ARGUMENT (400: malformed patch, bad pointer,
// schema violation), PERMISSION_DENIED (403: read-only/reserved attribute, removing a base
// attribute, changing the owner without being admin, format change after upload),
// FAILED_PRECONDITION (409: replacing/removing a missing property, 2.0 add of an existing
// one), UNIMPLEMENTED (501: locations). The returned request carries id, expected_version,
// mask and property changes; the caller adds the Caller and applies the policy
// (modify_image, and publicize_image / communitize_image for a new visibility).
// An empty operation list yields nullopt: Glance saves nothing then (not even updated_at).
absl::StatusOr<std::optional<v1::UpdateImageRequest>> PlanPatch(PatchDialect dialect,
                                                                std::string_view body,
                                                                const v1::Image& current,
                                                                const auth::Identity& caller);

}  // namespace gaze::gateway
