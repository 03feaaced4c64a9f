// RestoreImageAt (see restore_client.h).
#include "metadata-svc/restore_client.h"

#include <grpcpp/grpcpp.h>

#include "gaze/metadata/v1/metadata.grpc.pb.h"
#include "services/rpc/status.h"

namespace gaze::metadata {

absl::StatusOr<v1::Image> RestoreImageAt(const std::string& target, const std::string& image_id,
                                         const std::string& request_id, absl::Duration timeout) {
  auto stub =
      v1::ImageService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  ctx.AddMetadata(rpc::kRequestIdKey, request_id);
  v1::RestoreImageRequest request;
  request.mutable_caller()->set_is_admin(true);
  request.mutable_caller()->set_user_id("metadata-svc restore");
  request.set_id(image_id);
  v1::Image image;
  grpc::Status status = stub->RestoreImage(&ctx, request, &image);
  if (!status.ok()) return rpc::FromGrpc(status);
  return image;
}

}  // namespace gaze::metadata
