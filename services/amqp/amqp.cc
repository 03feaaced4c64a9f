// Publisher and Consumer on top of rabbitmq-c 0.11 (see connection.h for the connection
// itself). rabbitmq-c has no helper for publisher confirms and its amqp_consume_message()
// stops at any frame that is not a delivery, so both classes read frames themselves with
// amqp_simple_wait_frame_noblock(), which also sends and checks heartbeats while it waits.
#include "services/amqp/amqp.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/amqp/connection.h"

namespace gaze::amqp {
namespace {

using internal::Bytes;
using internal::Connection;
using internal::kChannel;
using internal::ToString;

// A consumer waits in Next() most of its life and services heartbeats there, so it can afford
// them (ConnectionOptions::consumer_heartbeat_seconds): they detect a dead broker (or a
// half-open TCP connection) within two intervals.
// A publisher instead sits idle between batches with nobody reading its socket; with
// heartbeats the broker would drop every idle publisher after two intervals. Its liveness
// comes from the timeout of PublishConfirmed() instead, and it runs without heartbeats.
constexpr int kPublisherHeartbeatSeconds = 0;

// Waits are measured on the monotonic clock, so a wall-clock jump cannot stretch them.
class Deadline {
 public:
  explicit Deadline(absl::Duration timeout)
      : end_(Clock::now() + std::chrono::nanoseconds(absl::ToInt64Nanoseconds(std::clamp(
                                timeout, absl::ZeroDuration(), absl::Hours(24 * 365))))) {}

  // Time left, never negative: zero makes rabbitmq-c poll without blocking.
  timeval Remaining() const {
    const auto left = std::max(Clock::duration::zero(), end_ - Clock::now());
    return absl::ToTimeval(absl::FromChrono(left));
  }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point end_;
};

// Publisher confirm sequence numbers of messages not yet acked or nacked.
using Outstanding = std::set<uint64_t>;

// Removes what an ack/nack with `tag` and `multiple` settles; true if it settled anything.
bool Settle(Outstanding& outstanding, uint64_t tag, bool multiple) {
  if (multiple) {
    auto end = outstanding.upper_bound(tag);
    const bool any = end != outstanding.begin();
    outstanding.erase(outstanding.begin(), end);
    return any;
  }
  return outstanding.erase(tag) > 0;
}

class PublisherImpl final : public Publisher {
 public:
  PublisherImpl(std::unique_ptr<Connection> conn, std::string queue)
      : conn_(std::move(conn)), queue_(std::move(queue)) {}

  absl::Status PublishConfirmed(const std::vector<Message>& messages,
                                absl::Duration timeout) override {
    if (!conn_->health().ok()) return conn_->health();
    const Deadline deadline(timeout);
    // First take in whatever arrived while idle: a connection.close from a broker that shut
    // down is reported here instead of publishing into a dead socket, and late confirms of a
    // batch that timed out are discarded.
    if (absl::Status drained = Drain(); !drained.ok()) return drained;

    Outstanding outstanding;
    for (const Message& m : messages) {
      amqp_basic_properties_t props{};
      props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
      props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
      if (!m.message_id.empty()) {
        props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        props.message_id = Bytes(m.message_id);
      }
      if (!m.correlation_id.empty()) {
        props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        props.correlation_id = Bytes(m.correlation_id);
      }
      if (!m.type.empty()) {
        props._flags |= AMQP_BASIC_TYPE_FLAG;
        props.type = Bytes(m.type);
      }
      // Default exchange, routing key = queue name; mandatory, so a message that reaches no
      // queue comes back as basic.return instead of vanishing.
      if (int rc = amqp_basic_publish(conn_->state(), kChannel, amqp_empty_bytes, Bytes(queue_),
                                      /*mandatory=*/1, /*immediate=*/0, &props, Bytes(m.body));
          rc != AMQP_STATUS_OK) {
        return conn_->FailLibrary(rc, "publish");
      }
      outstanding.insert(next_sequence_++);
    }

    // The first nack or return; reported once every message of the batch is settled, which
    // leaves the channel clean for the next batch.
    absl::Status rejected;
    while (!outstanding.empty()) {
      amqp_frame_t frame;
      const timeval remaining = deadline.Remaining();
      const int rc = amqp_simple_wait_frame_noblock(conn_->state(), &frame, &remaining);
      if (rc == AMQP_STATUS_TIMEOUT) {
        return absl::DeadlineExceededError(
            absl::StrCat("AMQP: ", outstanding.size(), " of ", messages.size(),
                         " messages not confirmed within ", absl::FormatDuration(timeout)));
      }
      if (rc != AMQP_STATUS_OK) return conn_->FailLibrary(rc, "wait for publisher confirms");
      if (absl::Status handled = HandleFrame(frame, outstanding, rejected); !handled.ok()) {
        return handled;
      }
      amqp_maybe_release_buffers(conn_->state());
    }
    return rejected;
  }

 private:
  absl::Status Drain() {
    for (;;) {
      amqp_frame_t frame;
      const timeval now{};
      const int rc = amqp_simple_wait_frame_noblock(conn_->state(), &frame, &now);
      if (rc == AMQP_STATUS_TIMEOUT) return absl::OkStatus();
      if (rc != AMQP_STATUS_OK) return conn_->FailLibrary(rc, "read from the broker");
      Outstanding stale;
      absl::Status ignored;
      if (absl::Status handled = HandleFrame(frame, stale, ignored); !handled.ok()) {
        return handled;
      }
      amqp_maybe_release_buffers(conn_->state());
    }
  }

  absl::Status HandleFrame(const amqp_frame_t& frame, Outstanding& outstanding,
                           absl::Status& rejected) {
    // Header and body frames are only read right after their basic.return, below.
    if (frame.frame_type != AMQP_FRAME_METHOD) return absl::OkStatus();
    const amqp_method_t& method = frame.payload.method;
    switch (method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
        Settle(outstanding, ack->delivery_tag, ack->multiple != 0);
        return absl::OkStatus();
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
        if (Settle(outstanding, nack->delivery_tag, nack->multiple != 0) && rejected.ok()) {
          rejected = absl::UnavailableError("AMQP: the broker refused (nacked) a message");
        }
        return absl::OkStatus();
      }
      case AMQP_BASIC_RETURN_METHOD: {
        // A return carries no sequence number. It precedes the ack of its message, and late
        // confirms are drained before a batch, so it belongs to this batch unless an earlier
        // batch timed out; then the worst case is a needless error and a duplicate publish.
        const auto* ret = static_cast<const amqp_basic_return_t*>(method.decoded);
        const int code = ret->reply_code;
        const std::string text = ToString(ret->reply_text);
        amqp_message_t returned;
        amqp_rpc_reply_t reply = amqp_read_message(conn_->state(), kChannel, &returned, 0);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
          return conn_->FailReply(reply, "read a returned message");
        }
        amqp_destroy_message(&returned);
        if (rejected.ok()) {
          rejected = absl::Status(internal::CodeForReplyCode(code),
                                  absl::StrCat("AMQP: message to queue ", queue_,
                                               " returned as unroutable: ", text, " (", code, ")"));
        }
        return absl::OkStatus();
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        return conn_->FailServerClose(method);
      default:
        return absl::OkStatus();
    }
  }

  std::unique_ptr<Connection> conn_;
  std::string queue_;
  // Sequence number the broker gives the next publish: confirm.select starts it at 1.
  uint64_t next_sequence_ = 1;
};

class ConsumerImpl final : public Consumer {
 public:
  explicit ConsumerImpl(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}

  absl::StatusOr<std::optional<Delivery>> Next(absl::Duration timeout) override {
    if (!conn_->health().ok()) return conn_->health();
    // The previous delivery was copied out, so its frames' memory can go back to the pool.
    amqp_maybe_release_buffers(conn_->state());
    const Deadline deadline(timeout);
    for (;;) {
      amqp_frame_t frame;
      const timeval remaining = deadline.Remaining();
      const int rc = amqp_simple_wait_frame_noblock(conn_->state(), &frame, &remaining);
      if (rc == AMQP_STATUS_TIMEOUT) return std::nullopt;
      if (rc != AMQP_STATUS_OK) return conn_->FailLibrary(rc, "wait for a delivery");
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      const amqp_method_t& method = frame.payload.method;
      switch (method.id) {
        case AMQP_BASIC_DELIVER_METHOD:
          return ReadDelivery(*static_cast<const amqp_basic_deliver_t*>(method.decoded));
        case AMQP_BASIC_CANCEL_METHOD:
          return conn_->Fail(absl::UnavailableError(
              "AMQP: the broker cancelled the consumer (was the queue deleted?)"));
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
          return conn_->FailServerClose(method);
        default:
          continue;
      }
    }
  }

  absl::Status Ack(uint64_t delivery_tag) override {
    if (!conn_->health().ok()) return conn_->health();
    if (int rc = amqp_basic_ack(conn_->state(), kChannel, delivery_tag, /*multiple=*/0);
        rc != AMQP_STATUS_OK) {
      return conn_->FailLibrary(rc, "ack");
    }
    return absl::OkStatus();
  }

  absl::Status Nack(uint64_t delivery_tag, bool requeue) override {
    if (!conn_->health().ok()) return conn_->health();
    if (int rc = amqp_basic_nack(conn_->state(), kChannel, delivery_tag, /*multiple=*/0,
                                 requeue ? 1 : 0);
        rc != AMQP_STATUS_OK) {
      return conn_->FailLibrary(rc, "nack");
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<std::optional<Delivery>> ReadDelivery(const amqp_basic_deliver_t& deliver) {
    Delivery out;
    out.delivery_tag = deliver.delivery_tag;
    out.redelivered = deliver.redelivered != 0;
    amqp_message_t message;
    amqp_rpc_reply_t reply = amqp_read_message(conn_->state(), kChannel, &message, 0);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) return conn_->FailReply(reply, "read delivery");
    const amqp_basic_properties_t& props = message.properties;
    out.body = ToString(message.body);
    auto has = [&props](amqp_flags_t flag) { return (props._flags & flag) != 0; };
    if (has(AMQP_BASIC_MESSAGE_ID_FLAG)) out.message_id = ToString(props.message_id);
    if (has(AMQP_BASIC_CORRELATION_ID_FLAG)) out.correlation_id = ToString(props.correlation_id);
    if (has(AMQP_BASIC_TYPE_FLAG)) out.type = ToString(props.type);
    amqp_destroy_message(&message);
    return out;
  }

  std::unique_ptr<Connection> conn_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Connect(const ConnectionOptions& options) {
  absl::StatusOr<std::unique_ptr<Connection>> conn =
      Connection::Open(options, kPublisherHeartbeatSeconds);
  if (!conn.ok()) return conn.status();
  if (absl::Status s = (*conn)->DeclareTopology(options.queue, options.delivery_limit); !s.ok()) {
    return s;
  }
  amqp_confirm_select((*conn)->state(), kChannel);
  if (amqp_rpc_reply_t reply = amqp_get_rpc_reply((*conn)->state());
      reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return (*conn)->FailReply(reply, "enable publisher confirms");
  }
  return std::make_unique<PublisherImpl>(*std::move(conn), options.queue);
}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Connect(const ConnectionOptions& options,
                                                            int prefetch) {
  if (prefetch < 1 || prefetch > UINT16_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("AMQP prefetch must be from 1 to ", UINT16_MAX, ", got ", prefetch));
  }
  if (options.consumer_heartbeat_seconds < 0 || options.consumer_heartbeat_seconds > UINT16_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("AMQP consumer heartbeat must be from 0 to ",
                                                   UINT16_MAX, " seconds, got ",
                                                   options.consumer_heartbeat_seconds));
  }
  absl::StatusOr<std::unique_ptr<Connection>> conn =
      Connection::Open(options, options.consumer_heartbeat_seconds);
  if (!conn.ok()) return conn.status();
  Connection& c = **conn;
  if (absl::Status s = c.DeclareTopology(options.queue, options.delivery_limit); !s.ok()) {
    return s;
  }
  amqp_basic_qos(c.state(), kChannel, /*prefetch_size=*/0, static_cast<uint16_t>(prefetch),
                 /*global=*/0);
  if (amqp_rpc_reply_t reply = amqp_get_rpc_reply(c.state());
      reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return c.FailReply(reply, "set prefetch");
  }
  // Manual acknowledgements (no_ack=0): a delivery stays the consumer's until Ack/Nack, and
  // goes back to the queue if the connection is lost first.
  amqp_basic_consume(c.state(), kChannel, Bytes(options.queue), amqp_empty_bytes,
                     /*no_local=*/0, /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
  if (amqp_rpc_reply_t reply = amqp_get_rpc_reply(c.state());
      reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return c.FailReply(reply, "start consuming " + options.queue);
  }
  return std::make_unique<ConsumerImpl>(*std::move(conn));
}

}  // namespace gaze::amqp
