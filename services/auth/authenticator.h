// How api-gateway learns who is calling: an Authenticator turns the request's token into an
// Identity. Two implementations: the static token file (auth/static_tokens.h) and Keystone
// (keystone/keystone_authenticator.h), chosen at start-up.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "services/auth/identity.h"

namespace gaze::auth {

struct AuthResult {
  enum class Outcome {
    kAuthenticated,  // identity is set
    kRejected,       // missing, unknown, expired or malformed token: 401
    kUnavailable,    // cannot tell right now (identity service down): 503, never an open door
  };
  Outcome outcome = Outcome::kRejected;
  Identity identity;
  // Why, for the log (never for the client).
  std::string reason;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // `token` is the X-Auth-Token header; `service_token` the X-Service-Token header or "".
  virtual boost::asio::awaitable<AuthResult> Authenticate(std::string_view token,
                                                          std::string_view service_token,
                                                          std::string_view request_id) = 0;
};

}  // namespace gaze::auth
