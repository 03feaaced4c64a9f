#include "services/auth/static_token_authenticator.h"

#include <sys/stat.h>

#include "services/common/log.h"

namespace gaze::auth {
namespace {

// -1 when the file cannot be stat'ed.
int64_t ModificationTimeNs(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StaticTokenAuthenticator>> StaticTokenAuthenticator::Load(
    std::string path, absl::Duration check_interval) {
  int64_t mtime = ModificationTimeNs(path);
  auto tokens = StaticTokens::LoadFile(path);
  if (!tokens.ok()) return tokens.status();
  return std::unique_ptr<StaticTokenAuthenticator>(
      new StaticTokenAuthenticator(std::move(path), check_interval,
                                   std::shared_ptr<const StaticTokens>(*std::move(tokens)), mtime));
}

StaticTokenAuthenticator::StaticTokenAuthenticator(std::string path, absl::Duration check_interval,
                                                   std::shared_ptr<const StaticTokens> tokens,
                                                   int64_t mtime_ns)
    : path_(std::move(path)),
      check_interval_(check_interval),
      tokens_(std::move(tokens)),
      mtime_ns_(mtime_ns),
      next_check_(absl::Now() + check_interval) {}

std::shared_ptr<const StaticTokens> StaticTokenAuthenticator::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Time now = absl::Now();
  if (now < next_check_) return tokens_;
  next_check_ = now + check_interval_;
  int64_t mtime = ModificationTimeNs(path_);
  if (mtime == mtime_ns_) return tokens_;
  mtime_ns_ = mtime;
  auto reloaded = StaticTokens::LoadFile(path_);
  if (!reloaded.ok()) {
    log::Error("token file not reloaded; the previous tokens stay in force")
        .Field("path", path_)
        .Field("error", std::string(reloaded.status().message()));
    return tokens_;
  }
  tokens_ = std::shared_ptr<const StaticTokens>(*std::move(reloaded));
  log::Info("token file reloaded").Field("path", path_).Field("tokens", int64_t(tokens_->size()));
  return tokens_;
}

boost::asio::awaitable<AuthResult> StaticTokenAuthenticator::Authenticate(
    std::string_view token, std::string_view /*service_token*/, std::string_view /*request_id*/) {
  std::optional<Identity> identity = Current()->Authenticate(token);
  if (!identity) co_return AuthResult{AuthResult::Outcome::kRejected, {}, "unknown token"};
  co_return AuthResult{AuthResult::Outcome::kAuthenticated, *std::move(identity), "static"};
}

size_t StaticTokenAuthenticator::size() { return Current()->size(); }

}  // namespace gaze::auth
