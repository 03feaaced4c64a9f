// The pure text side of gaze-bench's HTTP/1.1 client: endpoint URLs, response heads, chunk
// sizes, and the top-level string fields the workloads need from JSON bodies (the id of a
// created image, the `next` link of a list page). Kept apart from the socket code so that it
// can be unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gaze::bench {

// An endpoint given as http://host[:port][/prefix]. Only plain HTTP: put a TLS terminator
// in front of an HTTPS-only endpoint.
struct EndpointUrl {
  std::string host;
  std::string port;       // "80" when the URL has none
  std::string base_path;  // "" or "/prefix" without a trailing slash
  std::string host_header;
};
std::optional<EndpointUrl> ParseEndpointUrl(std::string_view url);

struct ResponseHead {
  int status = 0;
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool close = false;  // the server closes the connection after this response
};

// Parses a response head, from the status line to the empty line that ends it (included).
bool ParseResponseHead(std::string_view head, ResponseHead* out);

// Parses a chunk-size line without its CRLF: hex digits, optionally followed by extensions.
bool ParseChunkSize(std::string_view line, uint64_t* out);

// The value of the string member `key` of the top-level object in `json`, unescaped, or
// nullopt when the document has no such member or its value is not a string. Scans without
// building a document: list pages are tens of kilobytes and the generator must stay cheap.
std::optional<std::string> TopLevelString(std::string_view json, std::string_view key);

// Percent-encodes a query-string value (RFC 3986 unreserved characters pass through).
std::string QueryEscape(std::string_view value);

}  // namespace gaze::bench
