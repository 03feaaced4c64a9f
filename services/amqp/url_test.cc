// ParseAmqpUrl and AmqpUrl::Redacted: accepted spellings, defaults, and refusals.
#include "services/amqp/url.h"

#include "gtest/gtest.h"

namespace gaze::amqp {
namespace {

TEST(ParseAmqpUrl, FullUrl) {
  auto url = ParseAmqpUrl("amqp://gaze:s3cret@mq.example.org:5673/prod");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->user, "gaze");
  EXPECT_EQ(url->password, "s3cret");
  EXPECT_EQ(url->host, "mq.example.org");
  EXPECT_EQ(url->port, 5673);
  EXPECT_EQ(url->vhost, "prod");
}

TEST(ParseAmqpUrl, Defaults) {
  auto url = ParseAmqpUrl("amqp://localhost");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->user, "guest");
  EXPECT_EQ(url->password, "guest");
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, 5672);
  EXPECT_EQ(url->vhost, "/");
}

TEST(ParseAmqpUrl, DefaultVhostSpellings) {
  for (const char* text : {"amqp://h", "amqp://h/", "amqp://h/%2f", "amqp://h/%2F", "amqp://h//"}) {
    auto url = ParseAmqpUrl(text);
    ASSERT_TRUE(url.ok()) << text << ": " << url.status();
    EXPECT_EQ(url->vhost, "/") << text;
  }
}

TEST(ParseAmqpUrl, PercentDecoding) {
  auto url = ParseAmqpUrl("amqp://us%40er:p%3Aa%2Fss%40@127.0.0.1:5721/my%2fvhost");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->user, "us@er");
  EXPECT_EQ(url->password, "p:a/ss@");
  EXPECT_EQ(url->vhost, "my/vhost");
}

TEST(ParseAmqpUrl, UserWithoutPasswordHasEmptyPassword) {
  auto url = ParseAmqpUrl("amqp://alice@h/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->user, "alice");
  EXPECT_EQ(url->password, "");
}

TEST(ParseAmqpUrl, Ipv6Literal) {
  auto url = ParseAmqpUrl("amqp://[::1]:5700/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 5700);
  auto no_port = ParseAmqpUrl("amqp://[::1]");
  ASSERT_TRUE(no_port.ok()) << no_port.status();
  EXPECT_EQ(no_port->port, 5672);
}

TEST(ParseAmqpUrl, SchemeIsCaseInsensitive) { EXPECT_TRUE(ParseAmqpUrl("AMQP://h").ok()); }

TEST(ParseAmqpUrl, Rejects) {
  for (const char* text : {
           "", "http://h/",
           "amqps://h/",               // TLS is not supported
           "amqp://",                  // no host
           "amqp://:5672/",            // no host
           "amqp://user:pw@/",         // no host
           "amqp://h:/",               // empty port
           "amqp://h:0/",              // port out of range
           "amqp://h:65536/",          // port out of range
           "amqp://h:56x/",            // not a number
           "amqp://h:-1/",             // not a number
           "amqp://h/v?heartbeat=10",  // query parameters
           "amqp://h/%zz",             // bad percent-encoding
           "amqp://h/%2",              // truncated percent-encoding
           "amqp://[::1/",             // unterminated IPv6 literal
           "amqp://[::1]x/",           // junk after the IPv6 literal
       }) {
    auto url = ParseAmqpUrl(text);
    EXPECT_FALSE(url.ok()) << "accepted: " << text;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(ParseAmqpUrl, ErrorsNeverEchoThePassword) {
  auto url = ParseAmqpUrl("amqp://u:hunter%zz@h/");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.status().message().find("hunter"), absl::string_view::npos)
      << url.status().message();
}

TEST(AmqpUrl, RedactedHidesThePassword) {
  auto url = ParseAmqpUrl("amqp://gaze:s3cret@mq:5673/prod%2fa");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->Redacted(), "amqp://gaze:***@mq:5673/prod%2fa");
  auto root = ParseAmqpUrl("amqp://gaze:s3cret@[::1]:5673/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->Redacted(), "amqp://gaze:***@[::1]:5673/");
}

}  // namespace
}  // namespace gaze::amqp
