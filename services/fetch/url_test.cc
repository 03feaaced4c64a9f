#include "services/fetch/url.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gaze::fetch {
namespace {

using ::testing::HasSubstr;

TEST(IpAddressTest, ParsesCanonicalFormsOnly) {
  ASSERT_TRUE(IpAddress::Parse("192.0.2.1"));
  EXPECT_TRUE(IpAddress::Parse("192.0.2.1")->is_v4());
  EXPECT_EQ(IpAddress::Parse("0.0.0.0")->ToString(), "0.0.0.0");
  for (const char* text :
       {"127.1", "127.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.000.0.1", "127.0.0.01",
        "256.0.0.1", "1.2.3.4.5", "1.2.3.", ".1.2.3", "1..2.3", " 1.2.3.4", "fe80::1%eth0",
        "::ffff:127.1", "::ffff:0177.0.0.1", "[::1]", "", "1:2:3:4:5:6:7:8:9"}) {
    EXPECT_FALSE(IpAddress::Parse(text)) << text;
  }
}

TEST(IpAddressTest, PrintsRfc5952) {
  EXPECT_EQ(IpAddress::Parse("0:0:0:0:0:0:0:1")->ToString(), "::1");
  EXPECT_EQ(IpAddress::Parse("2001:DB8:0:0:0:0:0:1")->ToString(), "2001:db8::1");
  EXPECT_EQ(IpAddress::Parse("::ffff:7f00:1")->ToString(), "::ffff:127.0.0.1");
  EXPECT_EQ(*IpAddress::Parse("::FFFF:127.0.0.1"), *IpAddress::Parse("::ffff:7f00:1"));
  EXPECT_FALSE(IpAddress::Parse("::ffff:7f00:1")->is_v4());
}

TEST(ParseUrlTest, Normalises) {
  absl::StatusOr<Url> url = ParseUrl("HTTPS://Images.Example.ORG./disk.qcow2?v=1&x=%2F#part");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "images.example.org");
  EXPECT_FALSE(url->address);
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->target, "/disk.qcow2?v=1&x=%2F");
  EXPECT_EQ(url->Spec(), "https://images.example.org/disk.qcow2?v=1&x=%2F");

  url = ParseUrl("http://[0:0:0:0:0:0:0:1]:8080");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  ASSERT_TRUE(url->address);
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->target, "/");
  EXPECT_EQ(url->Spec(), "http://[::1]:8080/");

  url = ParseUrl("http://192.0.2.7:443?q");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->Spec(), "http://192.0.2.7:443/?q");
}

TEST(ParseUrlTest, RefusesWhatItDoesNotFullyUnderstand) {
  struct Case {
    const char* url;
    const char* reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"example.org/disk", "not absolute"},
      {"//example.org/disk", "not absolute"},
      {"file:///etc/passwd", "scheme file is not supported"},
      {"ftp://example.org/disk", "scheme ftp is not supported"},
      {"gopher://example.org:70/_GET", "scheme gopher is not supported"},
      {"http:example.org", "no host"},
      {"http:///disk", "no host"},
      {"http://:80/disk", "no host"},
      {"http://user:secret@example.org/", "user information"},
      {"http://example.org@127.0.0.1/", "user information"},
      {"http://example.org\\@127.0.0.1/", "user information"},
      {"http://example.org\\/", "host example.org\\ is not a canonical"},
      {"http://2130706433/", "host 2130706433 is not a canonical IP address or host name"},
      {"http://0x7f000001/", "host 0x7f000001 is not a canonical"},
      {"http://0x7f.1/", "host 0x7f.1 is not a canonical"},
      {"http://017700000001/", "not a canonical"},
      {"http://0177.0.0.1/", "not a canonical"},
      {"http://127.1/", "not a canonical"},
      {"http://127.0.1/", "not a canonical"},
      {"http://127.000.000.001/", "not a canonical"},
      {"http://127.0.0.1./", "not a canonical"},
      {"http://1.2.3.4.5/", "not a canonical"},
      {"http://images.123/", "not a canonical"},
      {"http://images.0x1F/", "not a canonical"},
      {"http://%31%32%37.0.0.1/", "not a canonical"},
      {"http://exa_mple.org/", "not a canonical"},
      {"http://-example.org/", "not a canonical"},
      {"http://example..org/", "not a canonical"},
      {"http://[::1/", "unterminated"},
      {"http://[127.0.0.1]/", "not a valid IPv6 address"},
      {"http://[fe80::1%25eth0]/", "not a valid IPv6 address"},
      {"http://[v1.fe80::1]/", "not a valid IPv6 address"},
      {"http://[::1]x/", "garbage after"},
      {"http://::1/", "no host"},
      {"http://example.org:0/", "port 0 is out of range"},
      {"http://example.org:65536/", "port 65536 is out of range"},
      {"http://example.org:/", "invalid port"},
      {"http://example.org:8o/", "invalid port"},
      {"http://example.org:123456/", "invalid port"},
      {"http://example.org:80:80/", "invalid port"},
      {"http://exa mple.org/", "space"},
      {"http://example.org/a b", "space"},
      {"http://example.org/\n", "control"},
      {"http://ex\xc3\xa4mple.org/", "non-ASCII"},
      {"http://example.org/a\\b", "'\\'"},
      {"http://example.org/{x}", "'{'"},
      {"http://example.org/%zz", "percent-encoding"},
      {"http://example.org/%4", "percent-encoding"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Url> url = ParseUrl(c.url);
    ASSERT_FALSE(url.ok()) << c.url;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(std::string(url.status().message()), HasSubstr(c.reason)) << c.url;
  }
  EXPECT_THAT(
      std::string(
          ParseUrl(std::string("http://example.org/") + std::string(9000, 'a')).status().message()),
      HasSubstr("longer than 8192"));
}

TEST(ParseUrlTest, DoesNotEchoCredentials) {
  absl::StatusOr<Url> url = ParseUrl("http://admin:hunter2@example.org/");
  ASSERT_FALSE(url.ok());
  EXPECT_THAT(std::string(url.status().message()), ::testing::Not(HasSubstr("hunter2")));
}

TEST(NormalizeHostTest, ConfigurationSpellings) {
  EXPECT_EQ(*NormalizeHost("LocalHost."), "localhost");
  EXPECT_EQ(*NormalizeHost("::1"), "::1");
  EXPECT_EQ(*NormalizeHost("[0::1]"), "::1");
  EXPECT_EQ(*NormalizeHost("10.0.0.1"), "10.0.0.1");
  EXPECT_FALSE(NormalizeHost("127.1").ok());
  EXPECT_FALSE(NormalizeHost("a..b").ok());
  EXPECT_FALSE(NormalizeHost("[::1").ok());
  EXPECT_FALSE(NormalizeHost("").ok());
}

TEST(ResolveReferenceTest, AllReferenceForms) {
  const Url base = *ParseUrl("http://mirror.example.org:8080/images/v1/disk.raw?token=a");
  struct Case {
    const char* ref;
    const char* want;
  };
  const Case cases[] = {
      {"https://other.example.org/x", "https://other.example.org/x"},
      {"//cdn.example.org/y", "http://cdn.example.org/y"},
      {"/z?q=1", "http://mirror.example.org:8080/z?q=1"},
      {"?token=b", "http://mirror.example.org:8080/images/v1/disk.raw?token=b"},
      {"disk2.raw", "http://mirror.example.org:8080/images/v1/disk2.raw"},
      {"../v2/disk.raw#frag", "http://mirror.example.org:8080/images/v1/../v2/disk.raw"},
      {"#frag", "http://mirror.example.org:8080/images/v1/disk.raw?token=a"},
      {"", "http://mirror.example.org:8080/images/v1/disk.raw?token=a"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Url> url = ResolveReference(base, c.ref);
    ASSERT_TRUE(url.ok()) << c.ref << ": " << url.status();
    EXPECT_EQ(url->Spec(), c.want) << c.ref;
  }
  EXPECT_THAT(std::string(ResolveReference(base, "file:///etc/passwd").status().message()),
              HasSubstr("scheme file is not supported"));
  EXPECT_THAT(std::string(ResolveReference(base, "//0x7f.1/").status().message()),
              HasSubstr("not a canonical"));
  EXPECT_THAT(std::string(ResolveReference(base, "/a b").status().message()), HasSubstr("space"));
}

}  // namespace
}  // namespace gaze::fetch
