// Validates Keystone tokens the way keystonemiddleware.auth_token does in front of Glance
// (/work/shared/keystone.md): Gaze holds a token of its own service user, obtained with its
// password and renewed before it expires, and asks Keystone about each caller's token with
// GET /v3/auth/tokens (X-Auth-Token: our token, X-Subject-Token: theirs). Valid results are
// cached (TokenCache) so a token is not re-validated per request. When Keystone cannot be
// reached, uncached tokens get kUnavailable (503), never a pass.
//
// No thundering herd at Keystone (a cold start with many clients used to send one password
// login and one validation per request, which Keystone could not answer in time):
// - The service token is fetched as soon as the authenticator is created (a failure there is
//   only logged; the first request retries), renewed in the background ahead of its expiry,
//   and at most one login is ever in flight: concurrent callers wait for it and share its
//   result, failure included.
// - Concurrent requests with the same uncached token share one validation and its result
//   (valid, rejected, or unavailable; an unavailable result is not cached, so the next request
//   asks again). allow_expired validations are a separate flight from normal ones.
//
// X-Service-Token: when a request also carries a valid token holding one of the service
// roles, the user's token is accepted even if it expired (allow_expired), as
// keystonemiddleware does for long-running service-to-service operations.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/auth/authenticator.h"
#include "services/keystone/token_cache.h"

namespace gaze::http {
class Client;
}

namespace gaze::keystone {

class ServiceTokenSource;
template <typename Result>
class SingleFlight;

struct KeystoneOptions {
  // Keystone's URL, e.g. "http://127.0.0.1:5000" or ".../v3" (the /v3 is optional).
  std::string url;
  // Gaze's service user, as keystonemiddleware's [keystone_authtoken] section has it.
  std::string user;
  std::string password;
  std::string project;
  std::string user_domain = "Default";
  std::string project_domain = "Default";
  // Roles of which an X-Service-Token must hold one (service_token_roles).
  std::vector<std::string> service_token_roles = {"service"};
  absl::Duration timeout = absl::Seconds(5);
  TokenCache::Options cache;
  // Log the service user in right away rather than on the first request.
  bool prefetch_service_token = true;
  // The service token is renewed in the background (requests keep using the current one)
  // once it has less than this left, though not before half its lifetime has passed.
  absl::Duration service_token_refresh_ahead = absl::Minutes(5);
  // The time; absl::Now() when unset (tests move it).
  std::function<absl::Time()> clock;
};

// A token Keystone confirmed: who it belongs to and until when it is valid.
struct ValidatedToken {
  auth::Identity identity;
  absl::Time expires_at;
};

// Parses the body of a 200/201 from /v3/auth/tokens.
absl::StatusOr<ValidatedToken> ParseTokenBody(std::string_view body);

class KeystoneAuthenticator final : public auth::Authenticator {
 public:
  static absl::StatusOr<std::unique_ptr<KeystoneAuthenticator>> Create(
      boost::asio::any_io_executor executor, KeystoneOptions options);
  ~KeystoneAuthenticator() override;

  boost::asio::awaitable<auth::AuthResult> Authenticate(std::string_view token,
                                                        std::string_view service_token,
                                                        std::string_view request_id) override;

 private:
  KeystoneAuthenticator(KeystoneOptions options, std::string base_path,
                        std::shared_ptr<http::Client> client,
                        std::shared_ptr<ServiceTokenSource> service_token);

  // The verdict on `token`: from the cache, or from Keystone (one call shared by concurrent
  // callers with the same token). Uses and fills the cache unless allow_expired.
  boost::asio::awaitable<auth::AuthResult> Validate(std::string_view token, bool allow_expired,
                                                    std::string_view request_id);
  // The Keystone call behind Validate (the work of one flight).
  boost::asio::awaitable<auth::AuthResult> AskKeystone(std::string_view token, bool allow_expired,
                                                       std::string_view request_id);
  absl::Time Now() const;
  // The cache's answer for `token` at `now`: authenticated, rejected, or nullopt on a miss.
  std::optional<auth::AuthResult> Cached(std::string_view token, absl::Time now);

  const KeystoneOptions options_;
  const std::string base_path_;  // URL path before /v3, usually ""
  const std::shared_ptr<http::Client> client_;
  // Gaze's own token. Shared with the background coroutines that fetch and renew it, which
  // may outlive this object.
  const std::shared_ptr<ServiceTokenSource> service_token_;
  TokenCache cache_;
  // Validations in flight, by cache key ("x" + cache key for allow_expired ones).
  const std::unique_ptr<SingleFlight<auth::AuthResult>> validations_;
};

}  // namespace gaze::keystone
