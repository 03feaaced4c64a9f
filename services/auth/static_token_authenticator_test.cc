#include "services/auth/static_token_authenticator.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace gaze::auth {
namespace {

namespace asio = boost::asio;

std::string Entry(const char* token, const char* project) {
  return std::string(R"({"token":")") + token + R"(","user_id":"u","project_id":")" + project +
         R"(","roles":["member"]})";
}

class StaticTokenAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gaze-tokens-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/tokens.json";
    Write("{\"tokens\":[" + Entry("t1", "p1") + "]}");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Replaces the file atomically, as an operator's tooling would, with a newer mtime.
  void Write(const std::string& text) {
    std::string tmp = path_ + ".new";
    std::ofstream(tmp) << text;
    auto t = std::filesystem::file_time_type::clock::now() + std::chrono::seconds(++generation_);
    std::filesystem::last_write_time(tmp, t);
    std::filesystem::rename(tmp, path_);
  }

  AuthResult Auth(StaticTokenAuthenticator& a, const char* token) {
    asio::io_context io;
    auto f = asio::co_spawn(io, a.Authenticate(token, "", "req-x"), asio::use_future);
    io.run();
    return f.get();
  }

  std::string dir_;
  std::string path_;
  int generation_ = 0;
};

TEST_F(StaticTokenAuthenticatorTest, AuthenticatesAndReloadsChangedFiles) {
  auto a = StaticTokenAuthenticator::Load(path_, absl::ZeroDuration());
  ASSERT_TRUE(a.ok()) << a.status();
  AuthResult r = Auth(**a, "t1");
  ASSERT_EQ(r.outcome, AuthResult::Outcome::kAuthenticated);
  EXPECT_EQ(r.identity.project_id, "p1");
  EXPECT_EQ(Auth(**a, "t2").outcome, AuthResult::Outcome::kRejected);

  // t1 revoked, t2 added.
  Write("{\"tokens\":[" + Entry("t2", "p2") + "]}");
  EXPECT_EQ(Auth(**a, "t2").outcome, AuthResult::Outcome::kAuthenticated);
  EXPECT_EQ(Auth(**a, "t1").outcome, AuthResult::Outcome::kRejected);

  // A broken file keeps the tokens in force.
  Write("{ not json");
  EXPECT_EQ(Auth(**a, "t2").outcome, AuthResult::Outcome::kAuthenticated);
}

TEST_F(StaticTokenAuthenticatorTest, MissingFileFailsToLoad) {
  EXPECT_FALSE(StaticTokenAuthenticator::Load(dir_ + "/absent.json").ok());
}

}  // namespace
}  // namespace gaze::auth
