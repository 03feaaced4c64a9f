// The RabbitMQ broker that integration tests (ctest label "amqp") run against, and a plain
// rabbitmq-c connection to inspect and clean up after them independently of the code under
// test.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

struct amqp_connection_state_t_;

namespace gaze::amqp::testing {

// GAZE_TEST_AMQP_URL, or "" when unset.
std::string TestBrokerUrl();
// True when CI == "true": without a broker, integration tests then fail instead of skipping.
bool InCi();
// A queue name no other test run uses: "gaze.test.<label>.<uuid>".
std::string UniqueQueueName(std::string_view label);

class BrokerAdmin {
 public:
  static absl::StatusOr<std::unique_ptr<BrokerAdmin>> Connect(const std::string& url);
  BrokerAdmin(const BrokerAdmin&) = delete;
  BrokerAdmin& operator=(const BrokerAdmin&) = delete;
  ~BrokerAdmin();

  // Messages in `queue` that are ready for delivery (not counting unacknowledged ones).
  absl::StatusOr<uint32_t> ReadyCount(const std::string& queue);
  // Takes one message body from `queue` (basic.get, auto-ack); nullopt when it is empty.
  absl::StatusOr<std::optional<std::string>> Get(const std::string& queue);
  absl::Status DeleteQueue(const std::string& queue);
  // Deletes what the amqp library declares for `queue`: it, <queue>.dead and <queue>.dlx.
  absl::Status DeleteTopology(const std::string& queue);

 private:
  explicit BrokerAdmin(amqp_connection_state_t_* state) : state_(state) {}
  // Every operation runs on a fresh channel, so a channel error (e.g. a passive declare of a
  // missing queue) cannot poison the next one.
  uint16_t OpenChannel(absl::Status* status);
  void CloseChannel(uint16_t channel);

  amqp_connection_state_t_* state_;
  uint16_t last_channel_ = 0;
};

}  // namespace gaze::amqp::testing
