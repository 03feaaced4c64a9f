// gaze-bench's HTTP/1.1 client: one keep-alive connection per coroutine on the generator's
// single io_context. Written for a load generator that shares the machine with the server it
// measures: a request is one write of a reused header buffer, a response is parsed in place
// in the connection's read buffer, and bodies the workload does not look at (image data) are
// read into a shared sink and dropped.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/http_parse.h"

namespace gaze::bench {

// What every connection of a run shares: where to connect, the headers every request carries,
// the block that upload bodies repeat, and the sink that discarded bodies are read into (one
// thread runs every connection, so they can share it).
struct ClientConfig {
  EndpointUrl url;
  std::vector<boost::asio::ip::tcp::endpoint> addresses;
  std::string common_headers;  // "Host: ...\r\nX-Auth-Token: ...\r\n..."
  std::string payload;         // pseudo-random bytes, repeated to make upload bodies
  std::vector<char> sink;
};

struct HttpRequest {
  std::string_view method;
  std::string_view target;        // path and query below the endpoint's base path
  std::string_view content_type;  // empty: none
  std::string_view body;
  uint64_t payload_bytes = 0;  // instead of `body`: this many bytes of ClientConfig::payload
};

inline constexpr int kTransportError = -1;

struct HttpResponse {
  int status = 0;     // kTransportError when the exchange failed
  std::string error;  // what failed, for transport errors
  std::string body;   // the body, when the exchange was asked to keep it
  uint64_t body_bytes = 0;
};

class HttpConnection {
 public:
  HttpConnection(boost::asio::any_io_executor executor, ClientConfig& config);

  // Sends `request` and reads the whole response, connecting first if needed. With
  // `keep_body` the body is stored in response.body, otherwise only counted. A transport
  // error closes the connection; the next exchange reconnects.
  boost::asio::awaitable<void> Exchange(const HttpRequest& request, bool keep_body,
                                        HttpResponse& response);
  void Close();

 private:
  boost::asio::awaitable<bool> Connect(HttpResponse& response);
  boost::asio::awaitable<bool> Send(const HttpRequest& request, HttpResponse& response);
  boost::asio::awaitable<bool> Receive(const HttpRequest& request, bool keep_body,
                                       HttpResponse& response);
  // Reads more bytes into rbuf_ after end_, compacting or growing it first when it is full.
  boost::asio::awaitable<bool> Fill(HttpResponse& response);
  // The offset just past the next CRLF at or after begin_, reading as needed.
  boost::asio::awaitable<bool> ReadLine(size_t* line_end, HttpResponse& response);
  boost::asio::awaitable<bool> ReadBody(uint64_t length, bool keep_body, HttpResponse& response);
  boost::asio::awaitable<bool> ReadChunked(bool keep_body, HttpResponse& response);
  boost::asio::awaitable<bool> ReadToEof(bool keep_body, HttpResponse& response);
  void TakeBuffered(size_t n, bool keep_body, HttpResponse& response);

  ClientConfig& config_;
  boost::asio::ip::tcp::socket socket_;
  std::string head_;
  std::vector<char> rbuf_;
  size_t begin_ = 0;  // unread bytes are rbuf_[begin_, end_)
  size_t end_ = 0;
};

}  // namespace gaze::bench
