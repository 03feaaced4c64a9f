// `metadata-svc restore IMAGE_ID`: the operator's way to bring back an image that awaits the
// delayed delete (Glance's glance-scrubber --restore), as a RestoreImage call to a running
// metadata-svc with an admin caller.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

// Calls ImageService.RestoreImage on the server at `target` ("host:port") as an admin, with
// `request_id` as the call's x-openstack-request-id. The restored image, or the call's error.
absl::StatusOr<v1::Image> RestoreImageAt(const std::string& target, const std::string& image_id,
                                         const std::string& request_id, absl::Duration timeout);

}  // namespace gaze::metadata
