// A small asynchronous HTTP/1.1 client for calls from Gaze's services to other HTTP services
// (Keystone today), for use from Boost.Asio coroutines. Keeps idle keep-alive connections to
// its one origin and retries a request once on a fresh connection when a reused one turns
// out to be dead. Plain HTTP only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gaze::http {

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";  // path and query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header with this name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

struct ClientOptions {
  // Bounds one attempt: connect, write and read.
  absl::Duration timeout = absl::Seconds(5);
  size_t max_response_bytes = 4 << 20;
  size_t max_idle_connections = 16;
};

class Client {
 public:
  // `base_url` is "http://host[:port]"; anything after the authority is ignored.
  static absl::StatusOr<std::unique_ptr<Client>> Create(boost::asio::any_io_executor executor,
                                                        std::string_view base_url,
                                                        ClientOptions options = {});
  ~Client();

  // UNAVAILABLE when the server cannot be reached or answers garbage; DEADLINE_EXCEEDED on
  // timeout. Any HTTP status is a successful result.
  boost::asio::awaitable<absl::StatusOr<ClientResponse>> Send(const ClientRequest& request);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gaze::http
