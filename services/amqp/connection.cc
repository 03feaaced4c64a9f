#include "services/amqp/connection.h"

#include <amqp_tcp_socket.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/amqp/url.h"

namespace gaze::amqp::internal {
namespace {

// RabbitMQ refuses longer queue and exchange names.
constexpr size_t kMaxNameLength = 255;
constexpr char kDeadSuffix[] = ".dead";
constexpr char kDlxSuffix[] = ".dlx";

absl::StatusCode CodeForLibraryStatus(int amqp_status) {
  switch (amqp_status) {
    case AMQP_STATUS_TIMEOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case AMQP_STATUS_NO_MEMORY:
      return absl::StatusCode::kResourceExhausted;
    case AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED:
    case AMQP_STATUS_CONNECTION_CLOSED:
    case AMQP_STATUS_SOCKET_ERROR:
    case AMQP_STATUS_SOCKET_CLOSED:
    case AMQP_STATUS_HEARTBEAT_TIMEOUT:
    case AMQP_STATUS_TCP_ERROR:
      return absl::StatusCode::kUnavailable;
    default:  // protocol violations and misuse: nothing a retry on this connection fixes
      return absl::StatusCode::kInternal;
  }
}

amqp_table_entry_t Utf8Entry(const char* key, const std::string& value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = Bytes(value);
  return e;
}

amqp_table_entry_t I32Entry(const char* key, int32_t value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I32;
  e.value.value.i32 = value;
  return e;
}

amqp_table_t Table(std::vector<amqp_table_entry_t>& entries) {
  return amqp_table_t{static_cast<int>(entries.size()), entries.data()};
}

absl::Status ValidateOptions(const ConnectionOptions& options) {
  if (options.queue.empty() || options.queue.size() + sizeof(kDeadSuffix) - 1 > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("AMQP queue name must have 1 to ",
                                                   kMaxNameLength - (sizeof(kDeadSuffix) - 1),
                                                   " characters"));
  }
  if (options.delivery_limit < 1) {
    return absl::InvalidArgumentError("AMQP delivery_limit must be at least 1");
  }
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("AMQP connect_timeout must be positive");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusCode CodeForReplyCode(int reply_code) {
  switch (reply_code) {
    case AMQP_REPLY_SUCCESS:
      return absl::StatusCode::kOk;
    case AMQP_CONNECTION_FORCED:  // broker shutting down, or an operator closed us
      return absl::StatusCode::kUnavailable;
    case AMQP_ACCESS_REFUSED:
    case AMQP_NOT_ALLOWED:  // e.g. no access to the vhost
      return absl::StatusCode::kPermissionDenied;
    case AMQP_NOT_FOUND:
      return absl::StatusCode::kNotFound;
    case AMQP_RESOURCE_LOCKED:
    case AMQP_PRECONDITION_FAILED:  // e.g. a queue re-declared with other arguments
    case AMQP_NO_ROUTE:
    case AMQP_NO_CONSUMERS:
    case AMQP_CONTENT_TOO_LARGE:
      return absl::StatusCode::kFailedPrecondition;
    case AMQP_RESOURCE_ERROR:
      return absl::StatusCode::kResourceExhausted;
    default:  // frame/syntax/command errors, internal-error, not-implemented
      return absl::StatusCode::kInternal;
  }
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectionOptions& options,
                                                             int heartbeat_seconds) {
  if (absl::Status valid = ValidateOptions(options); !valid.ok()) return valid;
  absl::StatusOr<AmqpUrl> url = ParseAmqpUrl(options.url);
  if (!url.ok()) return url.status();

  amqp_connection_state_t state = amqp_new_connection();
  if (state == nullptr) return absl::ResourceExhaustedError("AMQP: out of memory");
  // From here on the Connection owns `state`: its destructor frees it on every error path.
  std::unique_ptr<Connection> conn(new Connection(state, url->Redacted()));

  amqp_socket_t* socket = amqp_tcp_socket_new(state);
  if (socket == nullptr) {
    return conn->Fail(absl::ResourceExhaustedError("AMQP: cannot create a socket"));
  }
  const timeval timeout = absl::ToTimeval(options.connect_timeout);
  if (int rc = amqp_socket_open_noblock(socket, url->host.c_str(), url->port, &timeout);
      rc != AMQP_STATUS_OK) {
    return conn->FailLibrary(rc, "connect");
  }
  conn->socket_usable_ = true;
  // Bounds the login handshake and every synchronous RPC (declare, qos, consume, close), so a
  // broker that accepts TCP but never answers cannot hang the caller.
  amqp_set_handshake_timeout(state, &timeout);
  amqp_set_rpc_timeout(state, &timeout);

  // consumer_cancel_notify: the broker tells a consumer whose queue was deleted, instead of
  // leaving it waiting forever. rabbitmq-c merges this into its default capabilities.
  std::vector<amqp_table_entry_t> capabilities(1);
  capabilities[0].key = amqp_cstring_bytes("consumer_cancel_notify");
  capabilities[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capabilities[0].value.value.boolean = 1;
  std::vector<amqp_table_entry_t> properties(1);
  properties[0].key = amqp_cstring_bytes("capabilities");
  properties[0].value.kind = AMQP_FIELD_KIND_TABLE;
  properties[0].value.value.table = Table(capabilities);
  if (!options.connection_name.empty()) {
    properties.push_back(Utf8Entry("connection_name", options.connection_name));
  }
  const amqp_table_t client_properties = Table(properties);
  amqp_rpc_reply_t reply = amqp_login_with_properties(
      state, url->vhost.c_str(), /*channel_max=*/0, AMQP_DEFAULT_FRAME_SIZE, heartbeat_seconds,
      &client_properties, AMQP_SASL_METHOD_PLAIN, url->user.c_str(), url->password.c_str());
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) return conn->FailReply(reply, "login");

  amqp_channel_open(state, kChannel);
  reply = amqp_get_rpc_reply(state);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) return conn->FailReply(reply, "open channel");
  conn->channel_open_ = true;
  return conn;
}

Connection::~Connection() {
  // Each close is an RPC bounded by the connect timeout; after a socket-level failure there
  // is nobody to answer, so the socket is just dropped.
  if (socket_usable_) {
    if (channel_open_) amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_);
}

absl::Status Connection::DeclareTopology(const std::string& queue, int delivery_limit) {
  const std::string dlx = queue + kDlxSuffix;
  const std::string dead = queue + kDeadSuffix;
  const std::string quorum = "quorum";

  amqp_exchange_declare(state_, kChannel, Bytes(dlx), amqp_cstring_bytes("direct"),
                        /*passive=*/0, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0,
                        amqp_empty_table);
  amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return FailReply(reply, "declare exchange " + dlx);
  }

  std::vector<amqp_table_entry_t> dead_args = {Utf8Entry("x-queue-type", quorum)};
  amqp_queue_declare(state_, kChannel, Bytes(dead), /*passive=*/0, /*durable=*/1,
                     /*exclusive=*/0, /*auto_delete=*/0, Table(dead_args));
  reply = amqp_get_rpc_reply(state_);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) return FailReply(reply, "declare queue " + dead);

  amqp_queue_bind(state_, kChannel, Bytes(dead), Bytes(dlx), Bytes(queue), amqp_empty_table);
  reply = amqp_get_rpc_reply(state_);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return FailReply(reply, "bind " + dead + " to " + dlx);
  }

  std::vector<amqp_table_entry_t> queue_args = {
      Utf8Entry("x-queue-type", quorum),
      I32Entry("x-delivery-limit", delivery_limit),
      Utf8Entry("x-dead-letter-exchange", dlx),
  };
  amqp_queue_declare(state_, kChannel, Bytes(queue), /*passive=*/0, /*durable=*/1,
                     /*exclusive=*/0, /*auto_delete=*/0, Table(queue_args));
  reply = amqp_get_rpc_reply(state_);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) return FailReply(reply, "declare queue " + queue);
  return absl::OkStatus();
}

absl::Status Connection::Context(absl::StatusCode code, std::string_view what,
                                 std::string_view detail) {
  return {code,
          absl::StrCat("AMQP ", redacted_url_, ": ", std::string(what), ": ", std::string(detail))};
}

absl::Status Connection::ReplyStatus(const amqp_rpc_reply_t& reply, std::string_view what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return absl::OkStatus();
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return Context(CodeForLibraryStatus(reply.library_error), what,
                     amqp_error_string2(reply.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION: {
      int code = 0;
      std::string text;
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        code = close->reply_code;
        text = ToString(close->reply_text);
      } else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        code = close->reply_code;
        text = ToString(close->reply_text);
      } else {
        return Context(absl::StatusCode::kInternal, what,
                       absl::StrCat("unexpected method 0x", absl::Hex(reply.reply.id)));
      }
      absl::StatusCode status_code = CodeForReplyCode(code);
      if (status_code == absl::StatusCode::kOk) status_code = absl::StatusCode::kUnavailable;
      return Context(status_code, what, absl::StrCat(text, " (", code, ")"));
    }
    case AMQP_RESPONSE_NONE:
      break;
  }
  return Context(absl::StatusCode::kInternal, what, "no reply");
}

absl::Status Connection::FailLibrary(int amqp_status, std::string_view what) {
  socket_usable_ = false;
  return Fail(Context(CodeForLibraryStatus(amqp_status), what, amqp_error_string2(amqp_status)));
}

absl::Status Connection::FailReply(const amqp_rpc_reply_t& reply, std::string_view what) {
  absl::Status status = ReplyStatus(reply, what);
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) socket_usable_ = false;
  // A server exception closed the channel or the connection: answer with close-ok, as the
  // protocol asks, so the broker releases it at once.
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
    if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      amqp_connection_close_ok_t ok{};
      amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      socket_usable_ = false;
    } else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
      amqp_channel_close_ok_t ok{};
      amqp_send_method(state_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    }
    channel_open_ = false;
  }
  return Fail(std::move(status));
}

absl::Status Connection::FailServerClose(const amqp_method_t& method) {
  amqp_rpc_reply_t reply{};
  reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
  reply.reply = method;
  return FailReply(reply, "closed by the broker");
}

absl::Status Connection::Fail(absl::Status status) {
  if (health_.ok()) health_ = status;
  return status;
}

}  // namespace gaze::amqp::internal
