// The rabbitmq-c side of the amqp library: one connection with one open channel, the
// declaration of the task-queue topology, and the conversion of rabbitmq-c's error values
// (library status codes, AMQP reply codes) into absl::Status. Private to the library: only
// amqp.cc includes it, so <amqp.h> stays out of the public header.
#pragma once

#include <amqp.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/amqp/amqp.h"

namespace gaze::amqp::internal {

// The one channel each connection uses. Publishers and consumers never share a connection,
// so deliveries and publisher confirms never meet on one channel.
inline constexpr amqp_channel_t kChannel = 1;

// Maps an AMQP reply code (channel.close / connection.close / basic.return) to a status code.
absl::StatusCode CodeForReplyCode(int reply_code);

class Connection {
 public:
  // Connects (TCP connect, handshake and every later RPC bounded by options.connect_timeout),
  // logs in with `heartbeat_seconds` (0 disables heartbeats) and opens kChannel.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectionOptions& options,
                                                          int heartbeat_seconds);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  // Closes the channel and the connection politely (unacknowledged deliveries go back to the
  // queue; at most 2 x connect_timeout against a broker that stopped answering), or just
  // drops the socket after a socket-level failure.
  ~Connection();

  amqp_connection_state_t state() const { return state_; }

  // Declares the topology described in amqp.h for `queue`. Idempotent; a queue that exists
  // with other arguments (e.g. another delivery limit) gives FAILED_PRECONDITION.
  absl::Status DeclareTopology(const std::string& queue, int delivery_limit);

  // Converts a failed rabbitmq-c call. Both mark the connection broken.
  absl::Status FailLibrary(int amqp_status, std::string_view what);
  absl::Status FailReply(const amqp_rpc_reply_t& reply, std::string_view what);
  // For a channel.close or connection.close the broker sent outside an RPC: answers with
  // close-ok as the protocol asks, marks the connection broken and returns the reason.
  absl::Status FailServerClose(const amqp_method_t& method);
  // Marks the connection broken with `status` (the socket stays open) and returns it.
  absl::Status Fail(absl::Status status);

  // OK while usable; the first failure afterwards.
  const absl::Status& health() const { return health_; }

 private:
  Connection(amqp_connection_state_t state, std::string redacted_url)
      : state_(state), redacted_url_(std::move(redacted_url)) {}
  absl::Status Context(absl::StatusCode code, std::string_view what, std::string_view detail);
  absl::Status ReplyStatus(const amqp_rpc_reply_t& reply, std::string_view what);

  amqp_connection_state_t state_;
  std::string redacted_url_;
  absl::Status health_;
  bool channel_open_ = false;
  // True from TCP connect until the socket fails or the broker closes the connection.
  bool socket_usable_ = false;
};

// rabbitmq-c's view of a std::string. The library never writes through it.
inline amqp_bytes_t Bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

inline std::string ToString(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

}  // namespace gaze::amqp::internal
