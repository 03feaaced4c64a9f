// The one mapping between absl::Status and grpc::Status. Abseil's codes are gRPC's codes,
// so the mapping keeps code and message; only the types differ.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace gaze::rpc {

// gRPC metadata key that carries the request id between services.
inline constexpr char kRequestIdKey[] = "x-openstack-request-id";

grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace gaze::rpc
