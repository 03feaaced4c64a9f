// The HTTP/1.1 server (Boost.Beast, C++20 coroutines): keep-alive, chunked and
// Content-Length bodies streamed on demand, Expect: 100-continue, header-size limits, idle
// timeouts, zero-copy file bodies, an x-openstack-request-id on every response, one JSON
// access-log line per request, and a graceful drain.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gaze::gateway {

class GlanceApi;

struct ServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 9292;
  int io_threads = 2;
  // Request line plus headers.
  uint32_t header_limit = 64 * 1024;
  // How long a connection may stay silent (between requests, or inside a body) before it is
  // closed.
  absl::Duration idle_timeout = absl::Seconds(120);
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();

  // Binds the listening socket; returns the bound port (useful with port 0).
  absl::StatusOr<uint16_t> Bind();
  // Starts accepting and serving with `api` on the I/O threads.
  void Serve(GlanceApi& api);
  // The I/O threads' executor, for clients the handlers use (e.g. Keystone's).
  boost::asio::any_io_executor executor();
  // Stops accepting, lets requests in flight finish (up to `timeout`), then stops.
  void Drain(absl::Duration timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gaze::gateway
