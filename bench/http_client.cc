#include "bench/http_client.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

namespace gaze::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kInitialReadBuffer = 64 * 1024;
constexpr size_t kMaxHeadSize = 1 << 20;

}  // namespace

HttpConnection::HttpConnection(asio::any_io_executor executor, ClientConfig& config)
    : config_(config), socket_(std::move(executor)), rbuf_(kInitialReadBuffer) {
  head_.reserve(1024);
}

void HttpConnection::Close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
  begin_ = end_ = 0;
}

asio::awaitable<void> HttpConnection::Exchange(const HttpRequest& request, bool keep_body,
                                               HttpResponse& response) {
  response.status = kTransportError;
  response.error.clear();
  response.body.clear();
  response.body_bytes = 0;
  if (!socket_.is_open()) {
    bool connected = co_await Connect(response);
    if (!connected) co_return;
  }
  bool ok = co_await Send(request, response);
  if (ok) ok = co_await Receive(request, keep_body, response);
  if (!ok) {
    response.status = kTransportError;
    Close();
  }
}

asio::awaitable<bool> HttpConnection::Connect(HttpResponse& response) {
  begin_ = end_ = 0;
  auto result = co_await asio::async_connect(socket_, config_.addresses, kNoThrow);
  boost::system::error_code ec = std::get<0>(result);
  if (ec) {
    response.error = "connect: " + ec.message();
    Close();
    co_return false;
  }
  socket_.set_option(tcp::no_delay(true), ec);
  co_return true;
}

asio::awaitable<bool> HttpConnection::Send(const HttpRequest& request, HttpResponse& response) {
  head_.clear();
  head_.append(request.method).append(" ").append(config_.url.base_path).append(request.target);
  head_.append(" HTTP/1.1\r\n").append(config_.common_headers);
  if (!request.content_type.empty()) {
    head_.append("Content-Type: ").append(request.content_type).append("\r\n");
  }
  uint64_t length = request.payload_bytes > 0 ? request.payload_bytes : request.body.size();
  if (length > 0 || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    head_.append("Content-Length: ").append(std::to_string(length)).append("\r\n");
  }
  head_.append("\r\n");

  boost::system::error_code ec;
  if (request.payload_bytes == 0) {
    std::array<asio::const_buffer, 2> buffers{
        asio::buffer(head_), asio::buffer(request.body.data(), request.body.size())};
    auto result = co_await asio::async_write(socket_, buffers, kNoThrow);
    ec = std::get<0>(result);
  } else {
    auto result = co_await asio::async_write(socket_, asio::buffer(head_), kNoThrow);
    ec = std::get<0>(result);
    const std::string& block = config_.payload;
    for (uint64_t left = request.payload_bytes; left > 0 && !ec;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, block.size()));
      auto sent = co_await asio::async_write(socket_, asio::buffer(block.data(), n), kNoThrow);
      ec = std::get<0>(sent);
      left -= n;
    }
  }
  if (ec) {
    response.error = "send: " + ec.message();
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> HttpConnection::Fill(HttpResponse& response) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (end_ == rbuf_.size()) {
    if (begin_ > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    } else if (rbuf_.size() < kMaxHeadSize) {
      rbuf_.resize(rbuf_.size() * 2);
    } else {
      response.error = "response head or chunk line too long";
      co_return false;
    }
  }
  auto result = co_await socket_.async_read_some(
      asio::buffer(rbuf_.data() + end_, rbuf_.size() - end_), kNoThrow);
  boost::system::error_code ec = std::get<0>(result);
  if (ec) {
    response.error =
        ec == asio::error::eof ? "connection closed by the server" : "receive: " + ec.message();
    co_return false;
  }
  end_ += std::get<1>(result);
  co_return true;
}

asio::awaitable<bool> HttpConnection::ReadLine(size_t* line_end, HttpResponse& response) {
  size_t searched = begin_;
  for (;;) {
    std::string_view avail(rbuf_.data() + searched, end_ - searched);
    size_t crlf = avail.find("\r\n");
    if (crlf != std::string_view::npos) {
      *line_end = searched + crlf + 2;
      co_return true;
    }
    // Fill may move the unread bytes to the front: remember the position relative to begin_.
    size_t offset = searched - begin_ + (avail.empty() ? 0 : avail.size() - 1);
    if (!co_await Fill(response)) co_return false;
    searched = begin_ + offset;
  }
}

void HttpConnection::TakeBuffered(size_t n, bool keep_body, HttpResponse& response) {
  if (keep_body) response.body.append(rbuf_.data() + begin_, n);
  response.body_bytes += n;
  begin_ += n;
}

asio::awaitable<bool> HttpConnection::ReadBody(uint64_t length, bool keep_body,
                                               HttpResponse& response) {
  uint64_t left = length;
  size_t buffered = static_cast<size_t>(std::min<uint64_t>(left, end_ - begin_));
  TakeBuffered(buffered, keep_body, response);
  left -= buffered;
  if (left == 0) co_return true;
  begin_ = end_ = 0;
  if (keep_body) response.body.reserve(response.body.size() + left);
  while (left > 0) {
    // Straight from the socket, never past this body: nothing else can follow it before the
    // next request.
    char* into = keep_body ? rbuf_.data() : config_.sink.data();
    size_t room = keep_body ? rbuf_.size() : config_.sink.size();
    room = static_cast<size_t>(std::min<uint64_t>(room, left));
    auto result = co_await socket_.async_read_some(asio::buffer(into, room), kNoThrow);
    boost::system::error_code ec = std::get<0>(result);
    if (ec) {
      response.error = "receive body: " + ec.message();
      co_return false;
    }
    size_t n = std::get<1>(result);
    if (keep_body) response.body.append(into, n);
    response.body_bytes += n;
    left -= n;
  }
  co_return true;
}

asio::awaitable<bool> HttpConnection::ReadChunked(bool keep_body, HttpResponse& response) {
  for (;;) {
    size_t line_end = 0;
    if (!co_await ReadLine(&line_end, response)) co_return false;
    uint64_t size = 0;
    std::string_view line(rbuf_.data() + begin_, line_end - begin_ - 2);
    if (!ParseChunkSize(line, &size)) {
      response.error = "malformed chunk size";
      co_return false;
    }
    begin_ = line_end;
    if (size == 0) break;
    if (!co_await ReadBody(size, keep_body, response)) co_return false;
    if (!co_await ReadLine(&line_end, response)) co_return false;
    if (line_end - begin_ != 2) {
      response.error = "chunk longer than its size";
      co_return false;
    }
    begin_ = line_end;
  }
  // Trailer fields, up to the empty line.
  for (;;) {
    size_t line_end = 0;
    if (!co_await ReadLine(&line_end, response)) co_return false;
    bool empty = line_end - begin_ == 2;
    begin_ = line_end;
    if (empty) co_return true;
  }
}

asio::awaitable<bool> HttpConnection::ReadToEof(bool keep_body, HttpResponse& response) {
  TakeBuffered(end_ - begin_, keep_body, response);
  begin_ = end_ = 0;
  for (;;) {
    auto result = co_await socket_.async_read_some(
        asio::buffer(config_.sink.data(), config_.sink.size()), kNoThrow);
    boost::system::error_code ec = std::get<0>(result);
    size_t n = std::get<1>(result);
    if (keep_body) response.body.append(config_.sink.data(), n);
    response.body_bytes += n;
    if (ec == asio::error::eof) co_return true;
    if (ec) {
      response.error = "receive body: " + ec.message();
      co_return false;
    }
  }
}

asio::awaitable<bool> HttpConnection::Receive(const HttpRequest& request, bool keep_body,
                                              HttpResponse& response) {
  ResponseHead head;
  for (;;) {
    size_t head_end = 0;
    for (size_t searched = begin_;;) {
      std::string_view avail(rbuf_.data() + searched, end_ - searched);
      size_t blank = avail.find("\r\n\r\n");
      if (blank != std::string_view::npos) {
        head_end = searched + blank + 4;
        break;
      }
      size_t offset = searched - begin_ + (avail.size() > 3 ? avail.size() - 3 : 0);
      if (!co_await Fill(response)) co_return false;
      searched = begin_ + offset;
    }
    if (!ParseResponseHead(std::string_view(rbuf_.data() + begin_, head_end - begin_), &head)) {
      response.error = "malformed response head";
      co_return false;
    }
    begin_ = head_end;
    if (head.status >= 200) break;  // 1xx: an interim response, the real one follows
  }
  bool has_body = request.method != "HEAD" && head.status != 204 && head.status != 304;
  if (has_body) {
    bool ok = false;
    if (head.chunked) {
      ok = co_await ReadChunked(keep_body, response);
    } else if (head.content_length) {
      ok = co_await ReadBody(*head.content_length, keep_body, response);
    } else {
      ok = co_await ReadToEof(keep_body, response);
      head.close = true;
    }
    if (!ok) co_return false;
  }
  response.status = head.status;
  if (head.close) Close();
  co_return true;
}

}  // namespace gaze::bench
