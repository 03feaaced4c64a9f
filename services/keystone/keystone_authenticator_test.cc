#include "services/keystone/keystone_authenticator.h"

#include <atomic>
#include <boost/asio.hpp>
#include <map>
#include <mutex>
#include <thread>

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
// fixed set of user tokens. One connection at a time, one request per connection.
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
  int logins() const { return logins_.load(); }
  int validations() const { return validations_.load(); }
  std::string last_query() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_target_;
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
        status = "201 Created";
        extra = "X-Subject-Token: svc-" + std::to_string(k) + "\r\n";
        body =
            TokenBody("gaze", "service", R"([{"name": "service"}])", "2099-01-01T00:00:00.000000Z");
      } else if (head.rfind("GET /v3/auth/tokens", 0) == 0) {
        ++validations_;
        std::lock_guard<std::mutex> lock(mu_);
        last_target_ = target;
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
  std::mutex mu_;
  std::map<std::string, std::string> tokens_;
  std::string revoked_;
  std::string last_target_;
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

  absl::StatusOr<std::unique_ptr<KeystoneAuthenticator>> Make(std::string url) {
    KeystoneOptions o;
    o.url = std::move(url);
    o.user = "gaze";
    o.password = "pw";
    o.project = "service";
    o.timeout = absl::Seconds(2);
    return KeystoneAuthenticator::Create(io_.get_executor(), o);
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
