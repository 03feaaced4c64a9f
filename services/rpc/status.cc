#include "services/rpc/status.h"

namespace gaze::rpc {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  absl::string_view msg = status.message();
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(msg.data(), msg.size()));
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace gaze::rpc
