#include "services/keystone/keystone_authenticator.h"

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace gaze::keystone {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Outcome = auth::AuthResult::Outcome;

std::string TokenBody(std::string_view user, std::string_view project, std::string_view roles_json,
                      std::string_view expires) {
  return R"({"token": {"methods": ["password"], "user": {"id": ")" + std::string(user) +
         R"(", "name": "n-)" + std::string(user) + R"(", "domain": {"id": "default"}},
         "project": {"id": ")" +
         std::string(project) + R"(", "name": "pn"},
         "roles": )" +
         std::string(roles_json) + R"(, "expires_at": ")" + std::string(expires) +
         R"(", "issued_at": "2026-01-01T00:00:00.000000Z"}})";
}

// A fake Keystone: logs the service user in (a new service token each time), and knows a
// fixed set of user tokens. One connection at a time, one request per connection. It can be
// told to drop connections unanswered (a transport failure) and to answer slowly.
class FakeKeystone {
 public:
  FakeKeystone() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeKeystone() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket waker(io_);
    waker.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/v3";
  }
  void AddToken(std::string token, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_[std::move(token)] = std::move(body);
  }
  // The next validation made with this service token is answered 401 (revoked).
  void RevokeServiceToken(std::string token) {
    std::lock_guard<std::mutex> lock(mu_);
    revoked_ = std::move(token);
  }
  // The next n logins / validations: the connection is closed without an answer.
  void DropLogins(int n) { drop_logins_ = n; }
  void DropValidations(int n) { drop_validations_ = n; }
  // Each validation is answered after this long.
  void SetValidationDelay(std::chrono::milliseconds delay) { validation_delay_ = delay; }
  int logins() const { return logins_.load(); }
  int validations() const { return validations_.load(); }
  int expired_validations() const { return expired_validations_.load(); }
  std::string last_query() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_target_;
  }
  // The X-Auth-Token (Gaze's service token) of the last validation.
  std::string last_service_token() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_service_token_;
  }

 private:
  void Serve() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      std::string buf;
      size_t n = asio::read_until(socket, asio::dynamic_buffer(buf), "\r\n\r\n", ec);
      if (ec) continue;
      std::string head = buf.substr(0, n);
      auto header = [&](const std::string& name) {
        size_t at = head.find("\r\n" + name + ": ");
        if (at == std::string::npos) return std::string();
        size_t start = at + name.size() + 4;
        return head.substr(start, head.find("\r\n", start) - start);
      };
      if (size_t cl = head.find("Content-Length: "); cl != std::string::npos) {
        size_t len = std::stoul(head.substr(cl + 16));
        while (buf.size() < n + len) {
          char tmp[4096];
          size_t got = socket.read_some(asio::buffer(tmp), ec);
          if (ec) break;
          buf.append(tmp, got);
        }
      }
      std::string status = "404 Not Found", extra, body = "{}";
      std::string target = head.substr(head.find(' ') + 1);
      target = target.substr(0, target.find(' '));
      if (head.rfind("POST /v3/auth/tokens", 0) == 0) {
        int k = ++logins_;
        if (drop_logins_.fetch_sub(1) > 0) continue;  // closes the socket unanswered
        status = "201 Created";
        extra = "X-Subject-Token: svc-" + std::to_string(k) + "\r\n";
        body =
            TokenBody("gaze", "service", R"([{"name": "service"}])", "2099-01-01T00:00:00.000000Z");
      } else if (head.rfind("GET /v3/auth/tokens", 0) == 0) {
        ++validations_;
        if (target.find("allow_expired=1") != std::string::npos) ++expired_validations_;
        if (drop_validations_.fetch_sub(1) > 0) continue;
        std::this_thread::sleep_for(validation_delay_.load());
        std::lock_guard<std::mutex> lock(mu_);
        last_target_ = target;
        last_service_token_ = header("X-Auth-Token");
        if (header("X-Auth-Token") == revoked_) {
          revoked_.clear();
          status = "401 Unauthorized";
        } else if (auto it = tokens_.find(header("X-Subject-Token")); it != tokens_.end()) {
          status = "200 OK";
          body = it->second;
        }
      }
      std::string reply = "HTTP/1.1 " + status + "\r\nConnection: close\r\n" + extra +
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      asio::write(socket, asio::buffer(reply), ec);
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> logins_{0};
  std::atomic<int> validations_{0};
  std::atomic<int> expired_validations_{0};
  std::atomic<int> drop_logins_{0};
  std::atomic<int> drop_validations_{0};
  std::atomic<std::chrono::milliseconds> validation_delay_{std::chrono::milliseconds(0)};
  std::mutex mu_;
  std::map<std::string, std::string> tokens_;
  std::string revoked_;
  std::string last_target_;
  std::string last_service_token_;
};

class KeystoneAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keystone_.AddToken("demo-token",
                       TokenBody("u-demo", "p-demo", R"([{"name": "Member"}, {"name": "reader"}])",
                                 "2099-01-01T00:00:00.000000Z"));
    keystone_.AddToken("admin-token", TokenBody("u-admin", "p-admin", R"([{"name": "admin"}])",
                                                "2099-01-01T00:00:00.000000Z"));
    keystone_.AddToken("service-token", TokenBody("u-nova", "p-service", R"([{"name": "service"}])",
                                                  "2099-01-01T00:00:00.000000Z"));
    auto a = Make(keystone_.url());
    ASSERT_TRUE(a.ok()) << a.status();
    auth_ = *std::move(a);
  }

  absl::StatusOr<std::unique_ptr<KeystoneAuthenticator>> Make(
      std::string url, std::function<absl::Time()> clock = nullptr) {
    KeystoneOptions o;
    o.url = std::move(url);
    o.user = "gaze";
    o.password = "pw";
    o.project = "service";
    o.timeout = absl::Seconds(2);
    o.clock = std::move(clock);
    return KeystoneAuthenticator::Create(io_.get_executor(), o);
  }

  // Authenticate() calls, all started before any of them can finish, run on `threads` threads
  // (each on its own strand, as api-gateway's sessions are). Each result comes with whether
  // the call resumed on its own strand.
  using Call = std::pair<std::string, std::string>;  // token, service token
  std::vector<std::pair<auth::AuthResult, bool>> RunConcurrently(KeystoneAuthenticator& a,
                                                                 const std::vector<Call>& calls,
                                                                 int threads = 1) {
    using Strand = asio::strand<asio::io_context::executor_type>;
    std::vector<std::future<std::pair<auth::AuthResult, bool>>> futures;
    for (const auto& [token, service] : calls) {
      Strand strand = asio::make_strand(io_);
      auto call = [&a, strand, token = token,
                   service = service]() -> asio::awaitable<std::pair<auth::AuthResult, bool>> {
        auth::AuthResult r = co_await a.Authenticate(token, service, "req-test");
        co_return std::pair{std::move(r), strand.running_in_this_thread()};
      };
      futures.push_back(asio::co_spawn(strand, call, asio::use_future));
    }
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& t : pool) t.join();
    io_.restart();
    std::vector<std::pair<auth::AuthResult, bool>> results;
    for (auto& f : futures) results.push_back(f.get());
    return results;
  }

  auth::AuthResult Run(KeystoneAuthenticator& a, std::string token, std::string service = "") {
    auto future = asio::co_spawn(io_, a.Authenticate(token, service, "req-test"), asio::use_future);
    io_.run();
    io_.restart();
    return future.get();
  }

  FakeKeystone keystone_;
  asio::io_context io_;
  std::unique_ptr<KeystoneAuthenticator> auth_;
};

TEST_F(KeystoneAuthenticatorTest, ValidTokenYieldsIdentityAndIsCached) {
  auth::AuthResult r = Run(*auth_, "demo-token");
  ASSERT_EQ(r.outcome, Outcome::kAuthenticated) << r.reason;
  EXPECT_EQ(r.identity.user_id, "u-demo");
  EXPECT_EQ(r.identity.project_id, "p-demo");
  EXPECT_EQ(r.identity.roles, (std::vector<std::string>{"member", "reader"}));
  EXPECT_FALSE(r.identity.is_admin);
  EXPECT_EQ(keystone_.last_query(), "/v3/auth/tokens?nocatalog");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Run(*auth_, "demo-token").outcome, Outcome::kAuthenticated);
  EXPECT_EQ(keystone_.validations(), 1) << "cached after the first validation";
  EXPECT_EQ(keystone_.logins(), 1) << "the service token is reused";
  EXPECT_TRUE(Run(*auth_, "admin-token").identity.is_admin);
}

TEST_F(KeystoneAuthenticatorTest, UnknownTokenIsRejectedAndRememberedBriefly) {
  EXPECT_EQ(Run(*auth_, "nope").outcome, Outcome::kRejected);
  EXPECT_EQ(Run(*auth_, "nope").outcome, Outcome::kRejected);
  EXPECT_EQ(keystone_.validations(), 1);
  EXPECT_EQ(Run(*auth_, "").outcome, Outcome::kRejected);
  EXPECT_EQ(Run(*auth_, std::string(10000, 'x')).outcome, Outcome::kRejected);
  EXPECT_EQ(keystone_.validations(), 1) << "empty and huge tokens never reach Keystone";
}

TEST_F(KeystoneAuthenticatorTest, RevokedServiceTokenIsRenewedOnce) {
  ASSERT_EQ(Run(*auth_, "demo-token").outcome, Outcome::kAuthenticated);
  keystone_.RevokeServiceToken("svc-1");
  EXPECT_EQ(Run(*auth_, "admin-token").outcome, Outcome::kAuthenticated);
  EXPECT_EQ(keystone_.logins(), 2);
}

TEST_F(KeystoneAuthenticatorTest, ServiceTokenAllowsExpiredUserTokens) {
  auth::AuthResult r = Run(*auth_, "demo-token", "service-token");
  ASSERT_EQ(r.outcome, Outcome::kAuthenticated) << r.reason;
  EXPECT_EQ(r.identity.user_id, "u-demo") << "the identity is the user's, not the service's";
  EXPECT_EQ(keystone_.last_query(), "/v3/auth/tokens?nocatalog&allow_expired=1");
  // A service token without a service role does not count.
  EXPECT_EQ(Run(*auth_, "demo-token", "admin-token").outcome, Outcome::kRejected);
  EXPECT_EQ(Run(*auth_, "demo-token", "bogus").outcome, Outcome::kRejected);
}

TEST_F(KeystoneAuthenticatorTest, KeystoneDownIsUnavailableNotAPass) {
  tcp::acceptor probe(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::string url = "http://127.0.0.1:" + std::to_string(probe.local_endpoint().port());
  probe.close();
  auto down = Make(url);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(Run(**down, "demo-token").outcome, Outcome::kUnavailable);
}

// The cold start that overwhelmed Keystone: many connections with the same token at once.
TEST_F(KeystoneAuthenticatorTest, ConcurrentCallsWithOneTokenShareOneLoginAndOneValidation) {
  std::vector<Call> calls(32, Call{"demo-token", ""});
  for (const auto& [r, on_own_strand] : RunConcurrently(*auth_, calls)) {
    ASSERT_EQ(r.outcome, Outcome::kAuthenticated) << r.reason;
    EXPECT_EQ(r.identity.user_id, "u-demo");
    EXPECT_TRUE(on_own_strand);
  }
  EXPECT_EQ(keystone_.logins(), 1) << "one service login, shared";
  EXPECT_EQ(keystone_.validations(), 1) << "one validation, shared";
}

TEST_F(KeystoneAuthenticatorTest, ConcurrentCallsOnManyThreadsShareOneValidation) {
  keystone_.SetValidationDelay(std::chrono::milliseconds(50));
  std::vector<Call> calls(32, Call{"admin-token", ""});
  for (const auto& [r, on_own_strand] : RunConcurrently(*auth_, calls, /*threads=*/4)) {
    ASSERT_EQ(r.outcome, Outcome::kAuthenticated) << r.reason;
    EXPECT_TRUE(r.identity.is_admin);
    EXPECT_TRUE(on_own_strand) << "a waiter resumes on its own executor";
  }
  EXPECT_EQ(keystone_.logins(), 1);
  EXPECT_EQ(keystone_.validations(), 1);
}

TEST_F(KeystoneAuthenticatorTest, ConcurrentDifferentTokensAreValidatedOnceEach) {
  std::vector<Call> calls;
  for (int i = 0; i < 8; ++i) {
    for (const char* token : {"demo-token", "admin-token", "service-token", "nope"}) {
      calls.emplace_back(token, "");
    }
  }
  for (const auto& [r, on_own_strand] : RunConcurrently(*auth_, calls, /*threads=*/2)) {
    EXPECT_EQ(r.outcome, r.identity.user_id.empty() ? Outcome::kRejected : Outcome::kAuthenticated)
        << r.reason;
  }
  EXPECT_EQ(keystone_.logins(), 1);
  EXPECT_EQ(keystone_.validations(), 4);
  EXPECT_EQ(Run(*auth_, "nope").outcome, Outcome::kRejected) << "the rejection is cached";
  EXPECT_EQ(keystone_.validations(), 4);
}

TEST_F(KeystoneAuthenticatorTest, SharedTransportFailureIsNotCachedAndTheNextCallRetries) {
  keystone_.DropValidations(1);
  std::vector<Call> calls(16, Call{"demo-token", ""});
  for (const auto& [r, on_own_strand] : RunConcurrently(*auth_, calls)) {
    EXPECT_EQ(r.outcome, Outcome::kUnavailable) << r.reason;
  }
  EXPECT_EQ(keystone_.validations(), 1) << "the failed validation was shared";
  auth::AuthResult r = Run(*auth_, "demo-token");
  EXPECT_EQ(r.outcome, Outcome::kAuthenticated) << r.reason;
  EXPECT_EQ(keystone_.validations(), 2);
  EXPECT_EQ(keystone_.logins(), 1);
}

TEST_F(KeystoneAuthenticatorTest, SharedLoginFailureIsRetriedByTheNextCall) {
  keystone_.DropLogins(1);
  std::vector<Call> calls(16, Call{"demo-token", ""});
  for (const auto& [r, on_own_strand] : RunConcurrently(*auth_, calls)) {
    EXPECT_EQ(r.outcome, Outcome::kUnavailable) << r.reason;
  }
  EXPECT_EQ(keystone_.logins(), 1) << "the failed login was shared";
  EXPECT_EQ(keystone_.validations(), 0);
  auth::AuthResult r = Run(*auth_, "demo-token");
  EXPECT_EQ(r.outcome, Outcome::kAuthenticated) << r.reason;
  EXPECT_EQ(keystone_.logins(), 2);
  EXPECT_EQ(keystone_.validations(), 1);
}

TEST_F(KeystoneAuthenticatorTest, AllowExpiredValidationIsNotMergedWithANormalOne) {
  ASSERT_EQ(Run(*auth_, "service-token").outcome, Outcome::kAuthenticated);  // now cached
  ASSERT_EQ(keystone_.validations(), 1);
  auto results = RunConcurrently(*auth_, {{"demo-token", ""}, {"demo-token", "service-token"}});
  for (const auto& [r, on_own_strand] : results) {
    EXPECT_EQ(r.outcome, Outcome::kAuthenticated) << r.reason;
  }
  EXPECT_EQ(keystone_.validations(), 3);
  EXPECT_EQ(keystone_.expired_validations(), 1);
}

TEST_F(KeystoneAuthenticatorTest, ServiceTokenIsFetchedAtCreation) {
  io_.run();  // no request at all
  io_.restart();
  EXPECT_EQ(keystone_.logins(), 1);
  EXPECT_EQ(Run(*auth_, "demo-token").outcome, Outcome::kAuthenticated);
  EXPECT_EQ(keystone_.logins(), 1);
}

TEST_F(KeystoneAuthenticatorTest, FailedFetchAtCreationIsRetriedOnDemand) {
  keystone_.DropLogins(1);
  io_.run();
  io_.restart();
  EXPECT_EQ(keystone_.logins(), 1);
  auth::AuthResult r = Run(*auth_, "demo-token");
  EXPECT_EQ(r.outcome, Outcome::kAuthenticated) << r.reason;
  EXPECT_EQ(keystone_.logins(), 2);
}

TEST_F(KeystoneAuthenticatorTest, ServiceTokenIsRenewedInTheBackgroundBeforeItExpires) {
  // The fake's service tokens expire at 2099-01-01T00:00:00Z; start an hour before.
  const absl::Time expiry =
      absl::FromCivil(absl::CivilSecond(2099, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  absl::Time now = expiry - absl::Hours(1);
  auto a = Make(keystone_.url(), [&now] { return now; });
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(Run(**a, "demo-token").outcome, Outcome::kAuthenticated);
  const int logins = keystone_.logins();  // the fixture's authenticator's and ours
  const std::string first = keystone_.last_service_token();

  now = expiry - absl::Minutes(4);  // within service_token_refresh_ahead (5 min)
  ASSERT_EQ(Run(**a, "admin-token").outcome, Outcome::kAuthenticated);
  EXPECT_EQ(keystone_.last_service_token(), first) << "the request did not wait for the renewal";
  EXPECT_EQ(keystone_.logins(), logins + 1) << "renewed in the background";
  ASSERT_EQ(Run(**a, "service-token").outcome, Outcome::kAuthenticated);
  EXPECT_NE(keystone_.last_service_token(), first) << "the renewed token is used";
  EXPECT_EQ(keystone_.logins(), logins + 1) << "renewed once";

  now = expiry - absl::Seconds(30);  // too close to expiry to use: wait for a new one
  ASSERT_EQ(Run(**a, "nope").outcome, Outcome::kRejected);
  EXPECT_EQ(keystone_.logins(), logins + 2);
}

TEST(ParseTokenBodyTest, RejectsMalformedAnswers) {
  EXPECT_FALSE(ParseTokenBody("").ok());
  EXPECT_FALSE(ParseTokenBody("{}").ok());
  EXPECT_FALSE(ParseTokenBody(R"({"token": {"expires_at": "soon", "user": {"id": "u"}}})").ok());
  EXPECT_FALSE(ParseTokenBody(R"({"token": {"expires_at": "2099-01-01T00:00:00Z"}})").ok());
  auto ok =
      ParseTokenBody(R"({"token": {"expires_at": "2099-01-01T00:00:00Z", "user": {"id": "u"}}})");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->identity.project_id.empty()) << "a token without project scope";
}

TEST(ParseTokenBodyTest, ExpiryWithoutOffsetIsUtc) {
  // Application-credential tokens come with an expires_at that has no offset.
  auto naive = ParseTokenBody(
      R"({"token": {"expires_at": "2026-11-25T12:07:47.691516", "user": {"id": "u"}}})");
  ASSERT_TRUE(naive.ok()) << naive.status();
  EXPECT_EQ(naive->expires_at, absl::FromUnixMicros(1795608467691516));
}

}  // namespace
}  // namespace gaze::keystone
