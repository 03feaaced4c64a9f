#include "services/rpc/status.h"

#include "gtest/gtest.h"

namespace gaze::rpc {
namespace {

TEST(RpcStatusTest, RoundTripKeepsCodeAndMessage) {
  for (auto code : {absl::StatusCode::kNotFound, absl::StatusCode::kAlreadyExists,
                    absl::StatusCode::kFailedPrecondition, absl::StatusCode::kUnavailable,
                    absl::StatusCode::kAborted, absl::StatusCode::kPermissionDenied}) {
    absl::Status in(code, "why");
    grpc::Status g = ToGrpc(in);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "why");
    EXPECT_EQ(FromGrpc(g), in);
  }
  EXPECT_TRUE(ToGrpc(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace gaze::rpc
