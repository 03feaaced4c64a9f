#include "api-gateway/http_server.h"

#include <sys/sendfile.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "api-gateway/api.h"
#include "api-gateway/errors.h"
#include "api-gateway/http_message.h"
#include "services/common/ids.h"
#include "services/common/log.h"

namespace gaze::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// Socket read size while streaming a request body.
constexpr size_t kSocketReadSize = 512 * 1024;
// How much of an unread request body is drained after an early error response, so that the
// client gets to read the response (see BeastBody::Discard).
constexpr uint64_t kLingerBytes = uint64_t{1} << 30;
constexpr absl::Duration kLingerTime = absl::Seconds(30);

std::chrono::steady_clock::duration ToSteady(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// The request body of one exchange, read through Beast's parser on demand.
class BeastBody final : public RequestBody {
 public:
  BeastBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
            http::request_parser<http::empty_body>& header, absl::Duration idle_timeout)
      : stream_(stream), buffer_(buffer), header_(header), idle_timeout_(idle_timeout) {
    const auto& msg = header.get();
    auto expect = msg[http::field::expect];
    expect_continue_ = beast::iequals(expect, "100-continue");
    if (header.content_length()) content_length_ = *header.content_length();
    present_ = header.chunked() || content_length_.value_or(0) > 0;
  }

  bool present() const override { return present_; }
  std::optional<uint64_t> content_length() const override { return content_length_; }

  // True when every byte of the body has been read, so the connection can carry another
  // request.
  bool consumed() const { return body_ ? body_->is_done() : header_.is_done(); }

  // Reads and drops what is left of the body, up to `limit` bytes or until `deadline`. Used
  // after an early error response: clients (python-requests among them) send the whole body
  // before they read the answer, and would otherwise see a broken pipe instead of the 413.
  // A client waiting on Expect: 100-continue sends nothing more and needs no draining.
  asio::awaitable<void> Discard(uint64_t limit, absl::Time deadline) {
    if (!body_ && expect_continue_) co_return;
    std::vector<char> scratch(256 * 1024);
    uint64_t dropped = 0;
    while (dropped < limit && absl::Now() < deadline) {
      auto n = co_await ReadSome(scratch.data(), scratch.size());
      if (!n.ok() || *n == 0) break;
      dropped += *n;
    }
  }

  asio::awaitable<absl::StatusOr<std::string>> ReadAll(size_t limit) override {
    std::string out;
    if (content_length_ && *content_length_ > limit) {
      co_return absl::ResourceExhaustedError("body too large");
    }
    std::vector<char> chunk(64 * 1024);
    for (;;) {
      auto n = co_await ReadSome(chunk.data(), chunk.size());
      if (!n.ok()) co_return n.status();
      if (*n == 0) break;
      if (out.size() + *n > limit) co_return absl::ResourceExhaustedError("body too large");
      out.append(chunk.data(), *n);
    }
    co_return out;
  }

  asio::awaitable<absl::StatusOr<size_t>> ReadSome(char* buf, size_t size) override {
    if (!present_ || consumed()) co_return size_t{0};
    if (!body_) {
      if (expect_continue_) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        stream_.expires_after(ToSteady(idle_timeout_));
        auto result_ec = co_await http::async_write(stream_, cont, kNoThrow);
        auto ec = std::get<0>(result_ec);
        if (ec) co_return absl::UnavailableError("client went away: " + ec.message());
      }
      body_.emplace(std::move(header_));
      body_->eager(true);
    }
    // Feeds the parser from our own large socket reads instead of Beast's 64 KiB ones: the
    // per-read overhead (coroutine resumption, timer) otherwise caps uploads far below what
    // hashing and the disk can do.
    auto& b = body_->get().body();
    for (;;) {
      b.data = buf;
      b.size = size;
      while (buffer_.size() > 0 && !body_->is_done()) {
        boost::system::error_code ec;
        size_t used = body_->put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == http::error::need_buffer) break;  // our buffer is full
        if (ec == http::error::need_more) break;    // the parser needs more input
        if (ec) co_return absl::InvalidArgumentError("malformed request body: " + ec.message());
        if (used == 0) break;
      }
      size_t got = size - b.size;
      if (got > 0) co_return got;
      if (body_->is_done()) co_return size_t{0};
      stream_.expires_after(ToSteady(idle_timeout_));
      auto result = co_await stream_.async_read_some(buffer_.prepare(kSocketReadSize), kNoThrow);
      auto ec = std::get<0>(result);
      if (ec) co_return absl::UnavailableError("reading the request body: " + ec.message());
      buffer_.commit(std::get<1>(result));
    }
  }

 private:
  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::empty_body>& header_;
  std::optional<http::request_parser<http::buffer_body>> body_;
  absl::Duration idle_timeout_;
  std::optional<uint64_t> content_length_;
  bool present_ = false;
  bool expect_continue_ = false;
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(ServerOptions o)
      : options(std::move(o)), work(asio::make_work_guard(ioc)), acceptor(ioc) {}

  asio::awaitable<void> Accept();
  asio::awaitable<void> Session(tcp::socket socket);
  asio::awaitable<bool> Write(beast::tcp_stream& stream, Response& response, bool keep_alive,
                              const std::string& request_id);
  asio::awaitable<bool> SendFile(beast::tcp_stream& stream, FileBody& file);

  ServerOptions options;
  GlanceApi* api = nullptr;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<int> in_flight{0};
  std::atomic<bool> draining{false};
};

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() {
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

absl::StatusOr<uint16_t> HttpServer::Bind() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl_->options.listen_address, ec);
  if (ec) return absl::InvalidArgumentError("bad listen address: " + impl_->options.listen_address);
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError("cannot listen on " + impl_->options.listen_address + ":" +
                                  std::to_string(impl_->options.port) + ": " + ec.message());
  }
  return acceptor.local_endpoint().port();
}

void HttpServer::Serve(GlanceApi& api) {
  impl_->api = &api;
  asio::co_spawn(impl_->ioc, impl_->Accept(), asio::detached);
  for (int i = 0; i < impl_->options.io_threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
}

asio::any_io_executor HttpServer::executor() { return impl_->ioc.get_executor(); }

void HttpServer::Drain(absl::Duration timeout) {
  impl_->draining.store(true);
  asio::post(impl_->ioc, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  absl::Time deadline = absl::Now() + timeout;
  while (impl_->in_flight.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (impl_->in_flight.load() > 0) {
    log::Warning("drain timeout: dropping requests in flight")
        .Field("requests", impl_->in_flight.load());
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

asio::awaitable<void> HttpServer::Impl::Accept() {
  for (;;) {
    auto strand = asio::make_strand(ioc);
    auto result_ec = co_await acceptor.async_accept(strand, kNoThrow);
    auto ec = std::get<0>(result_ec);
    auto socket = std::get<1>(std::move(result_ec));
    if (ec) {
      if (draining.load() || ec == asio::error::operation_aborted) co_return;
      log::Warning("accept failed").Field("error", ec.message());
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, Session(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::Impl::Session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  std::string peer_address;  // for trusted-proxy checks
  std::string peer;          // address:port, for logs
  {
    boost::system::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) {
      auto address = ep.address();
      // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
      if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
      }
      peer_address = address.to_string();
      peer = peer_address + ":" + std::to_string(ep.port());
    }
  }
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(options.header_limit);
    // Bodies are read on demand by the handlers, which enforce their own limits (the JSON
    // limit, the image size cap); Beast would otherwise refuse a large Content-Length here.
    parser.body_limit(boost::none);
    stream.expires_after(ToSteady(options.idle_timeout));
    auto result_ec = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
    auto ec = std::get<0>(result_ec);
    if (ec) {
      // Beast's parse errors share one category; the connection simply closing does not
      // deserve an answer.
      bool parse_error =
          ec.category() == http::make_error_code(http::error::bad_method).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message;
      if (parse_error) {
        // Malformed request or headers too large: answer once, then close.
        Response r =
            ErrorResponse(ec == http::error::header_limit ? 431 : 400,
                          ec == http::error::header_limit ? "Request header fields are too large."
                                                          : "The request could not be parsed.",
                          std::nullopt);
        std::string request_id = NewRequestId();
        log::Info("bad request")
            .RequestId(request_id)
            .Field("peer", peer)
            .Field("error", ec.message());
        co_await Write(stream, r, false, request_id);
      }
      break;
    }
    in_flight.fetch_add(1);
    absl::Time started = absl::Now();
    const auto& msg = parser.get();
    Request request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    request.peer = peer_address;
    for (const auto& field : msg) {
      request.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    std::string request_id = NewRequestId();
    BeastBody body(stream, buffer, parser, options.idle_timeout);
    Response response;
    if (!ParseTarget(request.target, &request.path, &request.query)) {
      response =
          ErrorResponse(400, "The request URL could not be parsed.", request.FindHeader("Accept"));
    } else {
      response = co_await api->Handle(request, body, request_id);
    }
    // A body the handler did not read leaves the connection out of sync: close it.
    bool keep_alive = msg.keep_alive() && body.consumed() && !draining.load();
    uint64_t sent_bytes = response.file ? response.file->length : response.body.size();
    int status = response.status;
    bool ok = co_await Write(stream, response, keep_alive, request_id);
    if (ok && !body.consumed()) {
      co_await body.Discard(kLingerBytes, absl::Now() + kLingerTime);
    }
    log::Info("request")
        .RequestId(request_id)
        .Field("method", request.method)
        .Field("path", request.path)
        .Field("status", status)
        .Field("bytes", sent_bytes)
        .Field("ms", absl::ToDoubleMilliseconds(absl::Now() - started));
    in_flight.fetch_sub(1);
    if (!ok || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<bool> HttpServer::Impl::Write(beast::tcp_stream& stream, Response& response,
                                              bool keep_alive, const std::string& request_id) {
  auto fill = [&](auto& msg) {
    msg.result(static_cast<unsigned>(response.status));
    msg.version(11);
    for (const Header& h : response.headers) msg.insert(h.name, h.value);
    msg.set("x-openstack-request-id", request_id);
    msg.keep_alive(keep_alive);
  };
  stream.expires_after(ToSteady(options.idle_timeout));
  if (response.file) {
    http::response<http::empty_body> head;
    fill(head);
    head.content_length(response.file->length);
    http::response_serializer<http::empty_body> serializer(head);
    auto result_ec = co_await http::async_write_header(stream, serializer, kNoThrow);
    auto ec = std::get<0>(result_ec);
    if (ec) co_return false;
    co_return co_await SendFile(stream, *response.file);
  }
  http::response<http::string_body> msg;
  fill(msg);
  msg.body() = std::move(response.body);
  if (response.status != 204 && response.status != 304) msg.prepare_payload();
  auto result_ec = co_await http::async_write(stream, msg, kNoThrow);
  auto ec = std::get<0>(result_ec);
  co_return !ec;
}

asio::awaitable<bool> HttpServer::Impl::SendFile(beast::tcp_stream& stream, FileBody& file) {
  auto& socket = stream.socket();
  boost::system::error_code ec;
  socket.native_non_blocking(true, ec);
  if (ec) co_return false;
  off_t offset = static_cast<off_t>(file.offset);
  uint64_t left = file.length;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, 1u << 30));
    ssize_t sent = ::sendfile(socket.native_handle(), file.object.fd(), &offset, want);
    if (sent > 0) {
      left -= static_cast<uint64_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // A client that stops reading must not hold the connection forever: a timer cancels
      // the wait. `done` keeps a late timer callback from touching a finished exchange.
      auto done = std::make_shared<bool>(false);
      asio::steady_timer timer(socket.get_executor());
      timer.expires_after(ToSteady(options.idle_timeout));
      timer.async_wait([&socket, done](boost::system::error_code timer_ec) {
        if (!timer_ec && !*done) socket.cancel();
      });
      auto wait_ec_result = co_await socket.async_wait(tcp::socket::wait_write, kNoThrow);
      auto wait_ec = std::get<0>(wait_ec_result);
      *done = true;
      timer.cancel();
      if (wait_ec) co_return false;
      continue;
    }
    co_return false;  // the client went away, or the file shrank under us
  }
  co_return true;
}

}  // namespace gaze::gateway
