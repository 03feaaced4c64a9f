// Parsing of AMQP connection URLs: amqp://user:password@host:port/vhost.
//
// Follows the RabbitMQ URI spec where it matters to us: every part is percent-decoded, the
// port defaults to 5672, user and password default to guest, and a missing or empty path
// (".../" included) means the default vhost "/", which can also be written "%2f". "amqps"
// (TLS) and query parameters are refused rather than silently ignored.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace gaze::amqp {

struct AmqpUrl {
  std::string user = "guest";
  std::string password = "guest";
  std::string host;
  int port = 5672;
  std::string vhost = "/";

  // The URL with the password replaced by "***", for logs and error messages.
  std::string Redacted() const;
};

// INVALID_ARGUMENT (naming the problem, never echoing the password) for a malformed URL.
absl::StatusOr<AmqpUrl> ParseAmqpUrl(std::string_view url);

}  // namespace gaze::amqp
