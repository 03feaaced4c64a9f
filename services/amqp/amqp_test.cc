// Publisher/Consumer option checks that need no broker: they fail before any connect.
#include "services/amqp/amqp.h"

#include "gtest/gtest.h"

namespace gaze::amqp {
namespace {

ConnectionOptions Valid() {
  ConnectionOptions options;
  // Port 1 on loopback: nothing listens there, so a check that let an option through would
  // show up as UNAVAILABLE instead of INVALID_ARGUMENT.
  options.url = "amqp://guest:guest@127.0.0.1:1/";
  return options;
}

TEST(ConnectOptions, InvalidValuesAreRejectedBeforeConnecting) {
  ConnectionOptions options = Valid();
  options.queue = "";
  EXPECT_EQ(Publisher::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);

  options = Valid();
  options.queue = std::string(251, 'q');  // <queue>.dead would exceed 255 characters
  EXPECT_EQ(Publisher::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);

  options = Valid();
  options.delivery_limit = 0;
  EXPECT_EQ(Publisher::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);

  options = Valid();
  options.connect_timeout = absl::ZeroDuration();
  EXPECT_EQ(Consumer::Connect(options, 1).status().code(), absl::StatusCode::kInvalidArgument);

  options = Valid();
  options.url = "amqps://h/";
  EXPECT_EQ(Consumer::Connect(options, 1).status().code(), absl::StatusCode::kInvalidArgument);

  options = Valid();
  options.consumer_heartbeat_seconds = -1;
  EXPECT_EQ(Consumer::Connect(options, 1).status().code(), absl::StatusCode::kInvalidArgument);
  options.consumer_heartbeat_seconds = 65536;
  EXPECT_EQ(Consumer::Connect(options, 1).status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(Consumer::Connect(Valid(), 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Consumer::Connect(Valid(), 65536).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConnectOptions, NothingListeningIsUnavailable) {
  ConnectionOptions options = Valid();
  options.queue = std::string(250, 'q');  // the longest name allowed
  EXPECT_EQ(Publisher::Connect(options).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Consumer::Connect(Valid(), 65535).status().code(), absl::StatusCode::kUnavailable);
  options = Valid();
  options.consumer_heartbeat_seconds = 0;  // heartbeats off
  EXPECT_EQ(Consumer::Connect(options, 1).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gaze::amqp
