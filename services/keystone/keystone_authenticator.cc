#include "services/keystone/keystone_authenticator.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "services/common/log.h"
#include "services/http/client.h"
#include "services/keystone/single_flight.h"

namespace gaze::keystone {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using auth::AuthResult;
using Outcome = auth::AuthResult::Outcome;

// Longer tokens are refused without asking Keystone (Fernet tokens are ~200 bytes; PKI
// tokens of old could reach a few KiB).
constexpr size_t kMaxTokenBytes = 8192;
// Our own token is not used any more once it has less than this left: a request then waits
// for a new one (normally it was renewed in the background well before).
constexpr absl::Duration kRenewMargin = absl::Seconds(60);
// After a failed background renewal, the next one is tried no sooner than this.
constexpr absl::Duration kRefreshRetry = absl::Seconds(10);

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v != nullptr && v->is_string() ? std::string(v->as_string().c_str()) : std::string();
}

const json::object* ObjectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v != nullptr ? v->if_object() : nullptr;
}

AuthResult Rejected(std::string reason) {
  return AuthResult{Outcome::kRejected, {}, std::move(reason)};
}
AuthResult Unavailable(std::string reason) {
  return AuthResult{Outcome::kUnavailable, {}, std::move(reason)};
}

absl::Time NowOf(const KeystoneOptions& options) {
  return options.clock ? options.clock() : absl::Now();
}

}  // namespace

absl::StatusOr<ValidatedToken> ParseTokenBody(std::string_view body) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(body.data(), body.size()), ec);
  const json::object* doc = ec ? nullptr : root.if_object();
  const json::object* token = doc != nullptr ? ObjectAt(*doc, "token") : nullptr;
  if (token == nullptr) return absl::InvalidArgumentError("no token object in Keystone's answer");
  ValidatedToken out;
  std::string expires = StringAt(*token, "expires_at");
  std::string error;
  // Keystone writes the offset ("...Z") for most tokens but not all: those of application
  // credentials with an expiry come without one. keystonemiddleware reads both as UTC.
  if (!absl::ParseTime(absl::RFC3339_full, expires, &out.expires_at, &error) &&
      !absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", expires, absl::UTCTimeZone(), &out.expires_at,
                       &error)) {
    return absl::InvalidArgumentError("bad expires_at '" + expires + "': " + error);
  }
  if (const json::object* user = ObjectAt(*token, "user")) {
    out.identity.user_id = StringAt(*user, "id");
    out.identity.user_name = StringAt(*user, "name");
  }
  if (out.identity.user_id.empty()) return absl::InvalidArgumentError("token without user");
  // Glance only knows project-scoped callers; a domain- or system-scoped token leaves the
  // project empty, so the caller owns nothing and policy decides what it may read.
  if (const json::object* project = ObjectAt(*token, "project")) {
    out.identity.project_id = StringAt(*project, "id");
    out.identity.project_name = StringAt(*project, "name");
  }
  if (const json::value* roles = token->if_contains("roles"); roles && roles->is_array()) {
    for (const json::value& r : roles->as_array()) {
      if (!r.is_object()) continue;
      std::string name = Lower(StringAt(r.as_object(), "name"));
      if (name.empty()) continue;
      out.identity.is_admin = out.identity.is_admin || name == "admin";
      out.identity.roles.push_back(std::move(name));
    }
  }
  return out;
}

// Gaze's own (service user's) token. At most one login is in flight at any time: callers that
// need a token while one is under way wait for it and share its result. Held by a shared_ptr:
// the background coroutines (prefetch, renewal) keep it alive.
class ServiceTokenSource : public std::enable_shared_from_this<ServiceTokenSource> {
 public:
  ServiceTokenSource(asio::any_io_executor executor, const KeystoneOptions& options,
                     std::string base_path, std::shared_ptr<http::Client> client)
      : executor_(std::move(executor)),
        options_(options),
        base_path_(std::move(base_path)),
        client_(std::move(client)) {}

  // A token that is not `stale` (Keystone refused that one) and not about to expire: the
  // current one, or a new one (ours or the login in flight).
  asio::awaitable<absl::StatusOr<std::string>> Get(const std::string& stale) {
    bool refresh = false;
    std::string current;
    {
      std::lock_guard<std::mutex> lock(mu_);
      absl::Time now = NowOf(options_);
      if (UsableLocked(now, stale)) {
        current = token_;
        refresh = now >= refresh_after_ && now >= next_refresh_ && !refreshing_;
        refreshing_ = refreshing_ || refresh;
      }
    }
    if (!current.empty()) {
      // Renew ahead of expiry in the background; this request goes on with the current token.
      // (Spawned outside the lock: co_spawn may start running it right here.)
      if (refresh) asio::co_spawn(executor_, Refresh(shared_from_this()), asio::detached);
      co_return current;
    }
    const std::string key(kFlight);  // named: no temporaries in a co_await (GCC 12)
    for (int round = 0; round < 2; ++round) {
      auto login = [this, &stale] { return Login(stale); };
      absl::StatusOr<std::string> token = co_await flight_.Run(key, login);
      // We may have joined a login that started before Keystone refused `stale`.
      if (!token.ok() || *token != stale) co_return token;
    }
    co_return absl::UnavailableError("Keystone keeps handing out a service token it refuses");
  }

  // Fetches the token now, in the background: the first requests need not wait for it.
  void Prefetch() { asio::co_spawn(executor_, Fetch(shared_from_this()), asio::detached); }

 private:
  static constexpr const char* kFlight = "service-token";

  bool UsableLocked(absl::Time now, const std::string& stale) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !token_.empty() && token_ != stale && now + kRenewMargin < expires_;
  }

  static asio::awaitable<void> Fetch(std::shared_ptr<ServiceTokenSource> self) {
    const std::string none;
    absl::StatusOr<std::string> token = co_await self->Get(none);
    if (!token.ok()) {
      log::Warning("cannot get Gaze's service token from Keystone yet; will retry on demand")
          .Field("error", std::string(token.status().message()));
    }
  }

  static asio::awaitable<void> Refresh(std::shared_ptr<ServiceTokenSource> self) {
    std::string current;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      current = self->token_;
    }
    // With `current` as the stale one, the flight logs in anew unless another flight has
    // replaced the token meanwhile.
    const std::string key(kFlight);
    auto login = [&self, &current] { return self->Login(current); };
    absl::StatusOr<std::string> token = co_await self->flight_.Run(key, login);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->refreshing_ = false;
      if (!token.ok()) self->next_refresh_ = NowOf(self->options_) + kRefreshRetry;
    }
    if (!token.ok()) {
      log::Warning("cannot renew Gaze's service token ahead of its expiry")
          .Field("error", std::string(token.status().message()));
    }
  }

  // The work of a flight: logs the service user in, unless a usable token turned up meanwhile.
  asio::awaitable<absl::StatusOr<std::string>> Login(const std::string& stale) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (UsableLocked(NowOf(options_), stale)) co_return token_;
    }
    json::object body{
        {"auth",
         json::object{
             {"identity",
              json::object{
                  {"methods", json::array{"password"}},
                  {"password",
                   json::object{
                       {"user",
                        json::object{{"name", options_.user},
                                     {"domain", json::object{{"name", options_.user_domain}}},
                                     {"password", options_.password}}}}}}},
             {"scope",
              json::object{
                  {"project",
                   json::object{{"name", options_.project},
                                {"domain", json::object{{"name", options_.project_domain}}}}}}}}}};
    http::ClientRequest request;
    request.method = "POST";
    request.target = base_path_ + "/v3/auth/tokens?nocatalog";
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    request.body = json::serialize(body);
    auto response = co_await client_->Send(request);
    if (!response.ok()) co_return response.status();
    if (response->status != 201) {
      co_return absl::UnavailableError("Keystone refused Gaze's service credentials: HTTP " +
                                       std::to_string(response->status));
    }
    std::string token = response->Header("X-Subject-Token");
    auto parsed = ParseTokenBody(response->body);
    if (token.empty() || !parsed.ok()) {
      co_return absl::UnavailableError("unexpected answer from Keystone to the service login");
    }
    absl::Time now = NowOf(options_);
    std::lock_guard<std::mutex> lock(mu_);
    token_ = token;
    expires_ = parsed->expires_at;
    // Renew `service_token_refresh_ahead` before expiry, but not in the first half of the
    // token's life (short-lived tokens would otherwise be renewed on every request).
    refresh_after_ =
        std::max(expires_ - options_.service_token_refresh_ahead, now + (expires_ - now) / 2);
    next_refresh_ = absl::InfinitePast();
    co_return token;
  }

  const asio::any_io_executor executor_;
  const KeystoneOptions options_;
  const std::string base_path_;
  const std::shared_ptr<http::Client> client_;
  SingleFlight<absl::StatusOr<std::string>> flight_;
  mutable std::mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time expires_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time refresh_after_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time next_refresh_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // after a failure
  bool refreshing_ ABSL_GUARDED_BY(mu_) = false;  // a background renewal is under way
};

absl::StatusOr<std::unique_ptr<KeystoneAuthenticator>> KeystoneAuthenticator::Create(
    asio::any_io_executor executor, KeystoneOptions options) {
  if (options.user.empty() || options.password.empty() || options.project.empty()) {
    return absl::InvalidArgumentError("Keystone service user, password and project are required");
  }
  std::string url = options.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() >= 3 && url.substr(url.size() - 3) == "/v3") url.resize(url.size() - 3);
  std::string_view rest = url;
  size_t scheme = rest.find("://");
  size_t slash =
      scheme == std::string_view::npos ? std::string_view::npos : rest.find('/', scheme + 3);
  std::string base_path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  http::ClientOptions client_options;
  client_options.timeout = options.timeout;
  auto client = http::Client::Create(executor, url, client_options);
  if (!client.ok()) return client.status();
  std::shared_ptr<http::Client> shared_client = *std::move(client);
  auto service_token =
      std::make_shared<ServiceTokenSource>(executor, options, base_path, shared_client);
  if (options.prefetch_service_token) service_token->Prefetch();
  return std::unique_ptr<KeystoneAuthenticator>(
      new KeystoneAuthenticator(std::move(options), std::move(base_path), std::move(shared_client),
                                std::move(service_token)));
}

KeystoneAuthenticator::KeystoneAuthenticator(KeystoneOptions options, std::string base_path,
                                             std::shared_ptr<http::Client> client,
                                             std::shared_ptr<ServiceTokenSource> service_token)
    : options_(std::move(options)),
      base_path_(std::move(base_path)),
      client_(std::move(client)),
      service_token_(std::move(service_token)),
      cache_(options_.cache),
      validations_(std::make_unique<SingleFlight<AuthResult>>()) {}

KeystoneAuthenticator::~KeystoneAuthenticator() = default;

absl::Time KeystoneAuthenticator::Now() const { return NowOf(options_); }

std::optional<AuthResult> KeystoneAuthenticator::Cached(std::string_view token, absl::Time now) {
  AuthResult cached{Outcome::kAuthenticated, {}, "cached"};
  switch (cache_.Lookup(token, now, &cached.identity)) {
    case TokenCache::Verdict::kValid:
      return cached;
    case TokenCache::Verdict::kRejected:
      return Rejected("token rejected by Keystone (cached)");
    case TokenCache::Verdict::kMiss:
      break;
  }
  return std::nullopt;
}

asio::awaitable<AuthResult> KeystoneAuthenticator::Validate(std::string_view token,
                                                            bool allow_expired,
                                                            std::string_view request_id) {
  if (!allow_expired) {
    if (std::optional<AuthResult> cached = Cached(token, Now())) co_return *std::move(cached);
  }
  // Concurrent callers with this token share one call to Keystone. An allow_expired
  // validation may accept what a normal one rejects: never merge the two.
  const std::string key = (allow_expired ? "x" : "") + TokenCache::KeyOf(token);
  auto ask = [this, token, allow_expired, request_id] {
    return AskKeystone(token, allow_expired, request_id);
  };
  AuthResult result = co_await validations_->Run(key, ask);
  co_return result;
}

asio::awaitable<AuthResult> KeystoneAuthenticator::AskKeystone(std::string_view token,
                                                               bool allow_expired,
                                                               std::string_view request_id) {
  absl::Time now = Now();
  if (!allow_expired) {
    // A flight for this token may have landed between our cache miss and our flight.
    if (std::optional<AuthResult> cached = Cached(token, now)) co_return *std::move(cached);
  }
  http::ClientRequest request;
  request.target = base_path_ + "/v3/auth/tokens?nocatalog" +
                   std::string(allow_expired ? "&allow_expired=1" : "");
  std::string stale;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto ours = co_await service_token_->Get(stale);
    if (!ours.ok()) co_return Unavailable(std::string(ours.status().message()));
    request.headers = {{"X-Auth-Token", *ours},
                       {"X-Subject-Token", std::string(token)},
                       {"Accept", "application/json"},
                       {"X-OpenStack-Request-ID", std::string(request_id)}};
    auto response = co_await client_->Send(request);
    if (!response.ok()) co_return Unavailable(std::string(response.status().message()));
    if (response->status == 401) {  // our own token expired or was revoked: renew, retry
      stale = *ours;
      continue;
    }
    if (response->status == 404) {
      if (!allow_expired) cache_.PutRejected(token, now);
      co_return Rejected("Keystone: token not found or expired");
    }
    if (response->status != 200) {
      co_return Unavailable("Keystone answered HTTP " + std::to_string(response->status) +
                            " to a token validation");
    }
    auto parsed = ParseTokenBody(response->body);
    if (!parsed.ok()) co_return Unavailable(std::string(parsed.status().message()));
    if (!allow_expired) cache_.PutValid(token, parsed->identity, parsed->expires_at, now);
    co_return AuthResult{Outcome::kAuthenticated, std::move(parsed->identity), "validated"};
  }
  co_return Unavailable("Keystone keeps refusing Gaze's service token");
}

asio::awaitable<AuthResult> KeystoneAuthenticator::Authenticate(std::string_view token,
                                                                std::string_view service_token,
                                                                std::string_view request_id) {
  if (token.empty()) co_return Rejected("no token");
  if (token.size() > kMaxTokenBytes || service_token.size() > kMaxTokenBytes) {
    co_return Rejected("token too long");
  }
  bool allow_expired = false;
  if (!service_token.empty()) {
    AuthResult service = co_await Validate(service_token, false, request_id);
    if (service.outcome != Outcome::kAuthenticated) co_return service;
    for (const std::string& role : service.identity.roles) {
      for (const std::string& wanted : options_.service_token_roles) {
        allow_expired = allow_expired || role == wanted;
      }
    }
    if (!allow_expired) co_return Rejected("X-Service-Token lacks a service role");
  }
  AuthResult result = co_await Validate(token, allow_expired, request_id);
  if (result.outcome == Outcome::kUnavailable) {
    log::Warning("cannot validate token").RequestId(request_id).Field("reason", result.reason);
  }
  co_return result;
}

}  // namespace gaze::keystone
