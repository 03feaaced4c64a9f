// Validates Keystone tokens the way keystonemiddleware.auth_token does in front of Glance
// (/work/shared/keystone.md): Gaze holds a token of its own service user, obtained with its
// password and renewed before it expires, and asks Keystone about each caller's token with
// GET /v3/auth/tokens (X-Auth-Token: our token, X-Subject-Token: theirs). Valid results are
// cached (TokenCache) so a token is not re-validated per request. When Keystone cannot be
// reached, uncached tokens get kUnavailable (503), never a pass.
//
// X-Service-Token: when a request also carries a valid token holding one of the service
// roles, the user's token is accepted even if it expired (allow_expired), as
// keystonemiddleware does for long-running service-to-service operations.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/auth/authenticator.h"
#include "services/keystone/token_cache.h"

namespace gaze::http {
class Client;
}

namespace gaze::keystone {

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
                        std::unique_ptr<http::Client> client);

  // Our own token, renewed when it is about to expire or when `stale` (Keystone refused it).
  boost::asio::awaitable<absl::StatusOr<std::string>> ServiceToken(const std::string& stale);
  // Asks Keystone about `token`; uses and fills the cache unless allow_expired.
  boost::asio::awaitable<auth::AuthResult> Validate(std::string_view token, bool allow_expired,
                                                    std::string_view request_id);

  const KeystoneOptions options_;
  const std::string base_path_;  // URL path before /v3, usually ""
  std::unique_ptr<http::Client> client_;
  TokenCache cache_;
  std::mutex mu_;
  std::string service_token_ ABSL_GUARDED_BY(mu_);
  absl::Time service_token_expires_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace gaze::keystone
