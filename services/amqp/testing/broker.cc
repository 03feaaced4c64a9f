#include "services/amqp/testing/broker.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "services/amqp/url.h"
#include "services/common/ids.h"

namespace gaze::amqp::testing {
namespace {

absl::Status ReplyError(const amqp_rpc_reply_t& reply, std::string_view what) {
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return absl::OkStatus();
  std::string detail;
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    detail = amqp_error_string2(reply.library_error);
  } else if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
             reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
    detail = absl::StrCat("channel closed with ", close->reply_code);
  } else {
    detail = "server exception";
  }
  return absl::InternalError(absl::StrCat("test broker admin: ", std::string(what), ": ", detail));
}

amqp_bytes_t Bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

}  // namespace

std::string TestBrokerUrl() {
  const char* url = std::getenv("GAZE_TEST_AMQP_URL");
  return url == nullptr ? std::string() : std::string(url);
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

std::string UniqueQueueName(std::string_view label) {
  return absl::StrCat("gaze.test.", std::string(label), ".", NewUuid());
}

absl::StatusOr<std::unique_ptr<BrokerAdmin>> BrokerAdmin::Connect(const std::string& url) {
  absl::StatusOr<AmqpUrl> parsed = ParseAmqpUrl(url);
  if (!parsed.ok()) return parsed.status();
  amqp_connection_state_t state = amqp_new_connection();
  std::unique_ptr<BrokerAdmin> admin(new BrokerAdmin(state));
  amqp_socket_t* socket = amqp_tcp_socket_new(state);
  const timeval timeout{5, 0};
  if (socket == nullptr ||
      amqp_socket_open_noblock(socket, parsed->host.c_str(), parsed->port, &timeout) != 0) {
    return absl::UnavailableError("test broker admin: cannot connect to " + parsed->Redacted());
  }
  amqp_set_rpc_timeout(state, &timeout);
  if (absl::Status s = ReplyError(
          amqp_login(state, parsed->vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                     AMQP_SASL_METHOD_PLAIN, parsed->user.c_str(), parsed->password.c_str()),
          "login");
      !s.ok()) {
    return s;
  }
  return admin;
}

BrokerAdmin::~BrokerAdmin() {
  amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(state_);
}

uint16_t BrokerAdmin::OpenChannel(absl::Status* status) {
  const uint16_t channel = ++last_channel_;
  amqp_channel_open(state_, channel);
  *status = ReplyError(amqp_get_rpc_reply(state_), "open channel");
  return channel;
}

void BrokerAdmin::CloseChannel(uint16_t channel) {
  amqp_channel_close(state_, channel, AMQP_REPLY_SUCCESS);
}

absl::StatusOr<uint32_t> BrokerAdmin::ReadyCount(const std::string& queue) {
  absl::Status status;
  const uint16_t channel = OpenChannel(&status);
  if (!status.ok()) return status;
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(state_, channel, Bytes(queue), /*passive=*/1, 0, 0, 0, amqp_empty_table);
  if (ok == nullptr) return ReplyError(amqp_get_rpc_reply(state_), "passive declare " + queue);
  const uint32_t count = ok->message_count;
  CloseChannel(channel);
  return count;
}

absl::StatusOr<std::optional<std::string>> BrokerAdmin::Get(const std::string& queue) {
  absl::Status status;
  const uint16_t channel = OpenChannel(&status);
  if (!status.ok()) return status;
  amqp_rpc_reply_t reply = amqp_basic_get(state_, channel, Bytes(queue), /*no_ack=*/1);
  if (absl::Status s = ReplyError(reply, "get from " + queue); !s.ok()) return s;
  std::optional<std::string> body;
  if (reply.reply.id == AMQP_BASIC_GET_OK_METHOD) {
    amqp_message_t message;
    if (absl::Status s = ReplyError(amqp_read_message(state_, channel, &message, 0), "read");
        !s.ok()) {
      return s;
    }
    body.emplace(static_cast<const char*>(message.body.bytes), message.body.len);
    amqp_destroy_message(&message);
  }
  CloseChannel(channel);
  amqp_maybe_release_buffers(state_);
  return body;
}

absl::Status BrokerAdmin::DeleteQueue(const std::string& queue) {
  absl::Status status;
  const uint16_t channel = OpenChannel(&status);
  if (!status.ok()) return status;
  amqp_queue_delete(state_, channel, Bytes(queue), /*if_unused=*/0, /*if_empty=*/0);
  status = ReplyError(amqp_get_rpc_reply(state_), "delete queue " + queue);
  CloseChannel(channel);
  return status;
}

absl::Status BrokerAdmin::DeleteTopology(const std::string& queue) {
  absl::Status status = DeleteQueue(queue);
  status.Update(DeleteQueue(queue + ".dead"));
  absl::Status channel_status;
  const uint16_t channel = OpenChannel(&channel_status);
  status.Update(channel_status);
  if (!channel_status.ok()) return status;
  amqp_exchange_delete(state_, channel, Bytes(queue + ".dlx"), /*if_unused=*/0);
  status.Update(ReplyError(amqp_get_rpc_reply(state_), "delete exchange " + queue + ".dlx"));
  CloseChannel(channel);
  return status;
}

}  // namespace gaze::amqp::testing
