// HTTP request/response values as the Glance API handlers see them, independent of the HTTP
// library (Boost.Beast lives only in http_server.cc), so handler code compiles fast and can
// be unit-tested without sockets.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "services/store/store.h"

namespace gaze::gateway {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // raw request target, path and query
  std::string path;    // percent-decoded path, without the query
  // Percent-decoded query parameters in request order (keys may repeat).
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<Header> headers;
  // The address of the connection's other end (a client or a proxy), e.g. "10.0.0.7".
  std::string peer;

  // The first header with this name (case-insensitive), or nullopt.
  std::optional<std::string_view> FindHeader(std::string_view name) const;
};

// Image bytes sent from a file descriptor with zero-copy (sendfile).
struct FileBody {
  store::ReadableObject object;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct Response {
  int status = 200;
  std::vector<Header> headers;
  std::string body;
  // When set, the body is `file` instead of `body`, with Content-Length = file->length.
  std::optional<FileBody> file;

  Response& With(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
    return *this;
  }
};

// Access to the request body, read on demand: a handler that rejects a request never makes
// the client send its body (Expect: 100-continue is answered on the first read).
class RequestBody {
 public:
  virtual ~RequestBody() = default;
  // True when the request announces a body (Content-Length > 0 or chunked).
  virtual bool present() const = 0;
  // Content-Length when the client sent one.
  virtual std::optional<uint64_t> content_length() const = 0;
  // Reads the whole body. RESOURCE_EXHAUSTED when it exceeds `limit` bytes.
  virtual boost::asio::awaitable<absl::StatusOr<std::string>> ReadAll(size_t limit) = 0;
  // Reads the next bytes into `buf`; 0 means the body is complete. An error means the
  // connection is unusable (client went away, malformed chunking, idle timeout).
  virtual boost::asio::awaitable<absl::StatusOr<size_t>> ReadSome(char* buf, size_t size) = 0;
};

// Case-insensitive ASCII comparison, for header names and tokens.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Percent-decodes `in` ("+" becomes a space when `plus_is_space`). False on a bad escape.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string PercentEncode(std::string_view in);

// Splits a request target into a decoded path and decoded query parameters. False when the
// target is not a valid origin-form target.
bool ParseTarget(std::string_view target, std::string* path,
                 std::vector<std::pair<std::string, std::string>>* query);

}  // namespace gaze::gateway
