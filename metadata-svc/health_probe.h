// `metadata-svc probe`: asks a gRPC server for its health (grpc.health.v1.Health/Check).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace gaze::metadata {

// OK iff the server at `target` ("host:port") reports SERVING for the whole server within
// `timeout`. UNAVAILABLE (or the call's error) otherwise, with a message saying why.
absl::Status ProbeHealth(const std::string& target, absl::Duration timeout);

}  // namespace gaze::metadata
