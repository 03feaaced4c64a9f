// The Authenticator for deployments without Keystone: tokens come from a static token file
// (static_tokens.h), which is re-read when it changes, so tokens can be added or revoked
// without a restart.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/auth/authenticator.h"
#include "services/auth/static_tokens.h"

namespace gaze::auth {

class StaticTokenAuthenticator final : public Authenticator {
 public:
  // Fails when the file cannot be read or parsed. The file's modification time is checked at
  // most once per `check_interval`.
  static absl::StatusOr<std::unique_ptr<StaticTokenAuthenticator>> Load(
      std::string path, absl::Duration check_interval = absl::Seconds(1));

  // X-Service-Token has no meaning without Keystone and is ignored.
  boost::asio::awaitable<AuthResult> Authenticate(std::string_view token,
                                                  std::string_view service_token,
                                                  std::string_view request_id) override;
  size_t size();

 private:
  StaticTokenAuthenticator(std::string path, absl::Duration check_interval,
                           std::shared_ptr<const StaticTokens> tokens, int64_t mtime_ns);
  // The current tokens, re-reading the file when its modification time changed. A file that no
  // longer parses is logged and the tokens loaded before stay in force: a typo must not lock
  // everybody out.
  std::shared_ptr<const StaticTokens> Current();

  const std::string path_;
  const absl::Duration check_interval_;
  std::mutex mu_;
  std::shared_ptr<const StaticTokens> tokens_ ABSL_GUARDED_BY(mu_);
  int64_t mtime_ns_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gaze::auth
