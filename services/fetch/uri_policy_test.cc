#include "services/fetch/uri_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gaze::fetch {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

UriPolicy Policy(const UriFilterConfig& config) {
  absl::StatusOr<UriPolicy> policy = UriPolicy::Create(config);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

// The message of the refusal, or "" when `uri` is allowed.
std::string Refusal(const UriPolicy& policy, std::string_view uri) {
  absl::StatusOr<Url> url = policy.CheckUri(uri);
  if (url.ok()) return "";
  EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << uri;
  EXPECT_THAT(std::string(url.status().message()), StartsWith("URI not allowed: ")) << uri;
  return std::string(url.status().message());
}

TEST(UriPolicyTest, DefaultRefusesEveryNonPublicAddress) {
  const UriPolicy policy = Policy({});
  struct Case {
    const char* uri;
    const char* what;
  };
  const Case cases[] = {
      {"http://127.0.0.1/", "host 127.0.0.1 is a loopback address"},
      {"http://127.255.255.254/", "a loopback address"},
      {"http://[::1]/", "host ::1 is a loopback address"},
      {"http://[0:0:0:0:0:0:0:1]/", "host ::1 is a loopback address"},
      {"http://0.0.0.0/", "an unspecified address"},
      {"http://0.1.2.3/", "\"this network\""},
      {"http://[::]/", "an unspecified address"},
      {"http://10.1.2.3/", "a private address"},
      {"http://172.16.0.1/", "a private address"},
      {"http://172.31.255.255/", "a private address"},
      {"http://192.168.1.1/", "a private address"},
      {"http://169.254.169.254/latest/meta-data/",
       "host 169.254.169.254 is a link-local address (cloud metadata service)"},
      {"http://169.254.0.1/", "a link-local address"},
      {"http://[fe80::1]/", "a link-local address"},
      {"http://[febf::1]/", "a link-local address"},
      {"http://[fec0::1]/", "site-local"},
      {"http://[fc00::1]/", "a private (unique local) address"},
      {"http://[fd12:3456::1]/", "a private (unique local) address"},
      {"http://[fd00:ec2::254]/", "cloud metadata service"},
      {"http://100.64.0.1/", "carrier-grade NAT"},
      {"http://100.100.100.200/", "carrier-grade NAT"},  // Alibaba Cloud metadata
      {"http://100.127.255.255/", "carrier-grade NAT"},
      {"http://224.0.0.1/", "a multicast address"},
      {"http://239.255.255.250/", "a multicast address"},
      {"http://[ff02::1]/", "a multicast address"},
      {"http://255.255.255.255/", "a broadcast address"},
      {"http://240.0.0.1/", "a reserved address"},
      {"http://192.0.0.1/", "IETF protocol assignment"},
      {"http://192.0.2.1/", "a documentation address"},
      {"http://198.51.100.1/", "a documentation address"},
      {"http://203.0.113.1/", "a documentation address"},
      {"http://198.18.0.1/", "a benchmarking address"},
      {"http://198.19.255.255/", "a benchmarking address"},
      {"http://192.88.99.1/", "6to4 relay"},
      // IPv6 forms that carry an IPv4 address.
      {"http://[::ffff:127.0.0.1]/", "host ::ffff:127.0.0.1 is a loopback address (IPv4-mapped)"},
      {"http://[::ffff:7f00:1]/", "a loopback address (IPv4-mapped)"},
      {"http://[::FFFF:169.254.169.254]/", "(cloud metadata service) (IPv4-mapped)"},
      {"http://[::ffff:10.0.0.1]/", "a private address (IPv4-mapped)"},
      {"http://[::ffff:0.0.0.0]/", "an unspecified address (IPv4-mapped)"},
      {"http://[64:ff9b::7f00:1]/", "a loopback address (NAT64)"},
      {"http://[64:ff9b::169.254.169.254]/", "(NAT64)"},
      {"http://[64:ff9b:1::1]/", "a reserved address"},
      {"http://[::127.0.0.1]/", "a reserved address"},  // IPv4-compatible, deprecated
      {"http://[::ffff:0:127.0.0.1]/", "a reserved address"},
      {"http://[100::1]/", "a reserved address"},
      {"http://[2001:db8::1]/", "a documentation address"},
      {"http://[3fff::1]/", "a documentation address"},
      {"http://[2001::1]/", "IETF protocol assignment"},  // Teredo
      {"http://[2001:1ff::1]/", "IETF protocol assignment"},
      {"http://[2002:7f00:1::1]/", "a 6to4 address"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Refusal(policy, c.uri), HasSubstr(c.what)) << c.uri;
  }
}

TEST(UriPolicyTest, DefaultAllowsPublicAddressesAndNames) {
  const UriPolicy policy = Policy({});
  for (const char* uri : {
           "http://example.org/disk.qcow2",
           "https://images.example.org/disk.qcow2?sig=abc#frag",
           "HTTP://EXAMPLE.ORG/",
           "http://example.org:443/",  // Glance checks the port, not the port/scheme pair
           "http://8.8.8.8/",
           "http://100.63.255.255/",
           "http://100.128.0.0/",
           "http://172.32.0.1/",
           "http://169.253.255.255/",
           "http://[2606:4700:4700::1111]/",
           "http://[2001:200::1]/",
           "http://[3fff:1000::1]/",
           "http://[::ffff:8.8.8.8]/",
           "http://[64:ff9b::808:808]/",
       }) {
    EXPECT_EQ(Refusal(policy, uri), "") << uri;
  }
  absl::StatusOr<Url> url = policy.CheckUri("HTTPS://Images.Example.ORG/a");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "images.example.org");
}

TEST(UriPolicyTest, EncodedAddressesAreRefusedNotDecoded) {
  const UriPolicy policy = Policy({});
  for (const char* uri :
       {"http://2130706433/", "http://0x7f000001/", "http://0x7f.1/", "http://017700000001/",
        "http://0177.0.0.1/", "http://127.1/", "http://127.0.1/", "http://0x7f.0x0.0x0.0x1/",
        "http://0xa9fea9fe/", "http://2852039166/", "http://169.254.43518/", "http://127.0.0.1./",
        "http://images.123/"}) {
    EXPECT_THAT(Refusal(policy, uri), HasSubstr("is not a canonical IP address or host name"))
        << uri;
  }
  EXPECT_THAT(Refusal(policy, "http://user:pw@example.org/"), HasSubstr("user information"));
  EXPECT_THAT(Refusal(policy, "http://example.org@127.0.0.1/"), HasSubstr("user information"));
  EXPECT_THAT(Refusal(policy, "http://[fe80::1%25eth0]/"), HasSubstr("not a valid IPv6"));
  EXPECT_THAT(Refusal(policy, "http://[::ffff:127.1]/"), HasSubstr("not a valid IPv6"));
}

TEST(UriPolicyTest, Schemes) {
  const UriPolicy policy = Policy({});
  EXPECT_THAT(Refusal(policy, "file:///etc/passwd"), HasSubstr("scheme file is not supported"));
  EXPECT_THAT(Refusal(policy, "ftp://example.org/disk"), HasSubstr("scheme ftp is not supported"));
  EXPECT_THAT(Refusal(policy, "gopher://example.org/"), HasSubstr("scheme gopher"));
  EXPECT_THAT(Refusal(policy, "dict://example.org:11211/"), HasSubstr("scheme dict"));
  EXPECT_THAT(Refusal(policy, "data:text/plain,hello"), HasSubstr("scheme data"));
  EXPECT_THAT(Refusal(policy, "jar:http://example.org/a!/b"), HasSubstr("scheme jar"));

  const UriPolicy https_only = Policy({.allowed_schemes = "https"});
  EXPECT_EQ(Refusal(https_only, "https://example.org/"), "");
  EXPECT_THAT(Refusal(https_only, "http://example.org/"),
              HasSubstr("scheme http is not in the allowed schemes"));

  // No allow list: the deny list applies, and only http/https can be fetched anyway.
  const UriPolicy deny_http = Policy({.allowed_schemes = "", .disallowed_schemes = "http,ftp"});
  EXPECT_EQ(Refusal(deny_http, "https://example.org/"), "");
  EXPECT_THAT(Refusal(deny_http, "http://example.org/"), HasSubstr("scheme http is disallowed"));
  EXPECT_THAT(Refusal(deny_http, "file:///etc/passwd"), HasSubstr("not supported"));

  // The allow list overrides the deny list.
  const UriPolicy both = Policy({.allowed_schemes = "http", .disallowed_schemes = "http"});
  EXPECT_EQ(Refusal(both, "http://example.org/"), "");
}

TEST(UriPolicyTest, Ports) {
  const UriPolicy policy = Policy({});
  EXPECT_EQ(Refusal(policy, "http://example.org:80/"), "");
  EXPECT_EQ(Refusal(policy, "https://example.org/"), "");
  EXPECT_THAT(Refusal(policy, "http://example.org:8080/"),
              HasSubstr("port 8080 is not in the allowed ports"));
  EXPECT_THAT(Refusal(policy, "http://example.org:22/"), HasSubstr("port 22"));

  // Gaze checks the effective port: with 80 not allowed, "http://host/" is refused (Glance
  // skips the check when the URI names no port).
  const UriPolicy only_8080 = Policy({.allowed_ports = "8080"});
  EXPECT_EQ(Refusal(only_8080, "http://example.org:8080/"), "");
  EXPECT_THAT(Refusal(only_8080, "http://example.org/"), HasSubstr("port 80 is not in"));

  const UriPolicy deny = Policy({.allowed_ports = "", .disallowed_ports = "22, 25,6379"});
  EXPECT_EQ(Refusal(deny, "http://example.org:8081/"), "");
  EXPECT_EQ(Refusal(deny, "http://example.org/"), "");
  EXPECT_THAT(Refusal(deny, "http://example.org:6379/"), HasSubstr("port 6379 is disallowed"));

  const UriPolicy both = Policy({.allowed_ports = "8080", .disallowed_ports = "8080"});
  EXPECT_EQ(Refusal(both, "http://example.org:8080/"), "");
}

TEST(UriPolicyTest, Hosts) {
  const UriPolicy deny = Policy({.disallowed_hosts = "evil.example.org,198.51.100.7"});
  EXPECT_THAT(Refusal(deny, "http://EVIL.example.org./"),
              HasSubstr("host evil.example.org is disallowed"));
  EXPECT_EQ(Refusal(deny, "http://good.example.org/"), "");

  const UriPolicy allow = Policy(
      {.allowed_hosts = "mirror.example.org, 8.8.8.8", .disallowed_hosts = "mirror.example.org"});
  EXPECT_EQ(Refusal(allow, "http://mirror.example.org/"), "");  // overrides the deny list
  EXPECT_EQ(Refusal(allow, "http://8.8.8.8/"), "");
  EXPECT_THAT(Refusal(allow, "http://other.example.org/"),
              HasSubstr("host other.example.org is not in the allowed hosts"));
  // An address outside the public ranges says so first: more useful than "not in the list".
  EXPECT_THAT(Refusal(allow, "http://127.0.0.1/"), HasSubstr("is a loopback address"));
}

TEST(UriPolicyTest, AnExplicitAllowEntryIsTheOnlyWayToALoopbackSource) {
  const UriPolicy policy = Policy({.allowed_hosts = "127.0.0.1,[0::1],localhost"});
  EXPECT_EQ(Refusal(policy, "http://127.0.0.1/"), "");
  EXPECT_EQ(Refusal(policy, "http://[::1]/"), "");
  EXPECT_EQ(Refusal(policy, "http://[0:0::1]/"), "");
  EXPECT_EQ(Refusal(policy, "http://LOCALHOST./"), "");
  // Other spellings and other loopback addresses stay refused.
  EXPECT_THAT(Refusal(policy, "http://127.0.0.2/"), HasSubstr("is a loopback address"));
  EXPECT_THAT(Refusal(policy, "http://[::ffff:127.0.0.1]/"), HasSubstr("(IPv4-mapped)"));
  EXPECT_THAT(Refusal(policy, "http://127.1/"), HasSubstr("not a canonical"));
  EXPECT_THAT(Refusal(policy, "http://2130706433/"), HasSubstr("not a canonical"));
}

TEST(UriPolicyTest, ResolvedAddresses) {
  const UriPolicy policy = Policy({.disallowed_hosts = "8.8.4.4"});
  const Url url = *policy.CheckUri("http://images.example.org/");
  EXPECT_TRUE(policy.CheckResolvedAddress(url, *IpAddress::Parse("93.184.216.34")).ok());
  EXPECT_TRUE(policy.CheckResolvedAddress(url, *IpAddress::Parse("2606:2800:220:1::")).ok());

  absl::Status s = policy.CheckResolvedAddress(url, *IpAddress::Parse("127.0.0.1"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "URI not allowed: host images.example.org resolves to a loopback address");
  s = policy.CheckResolvedAddress(url, *IpAddress::Parse("169.254.169.254"));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("resolves to a link-local address (cloud metadata service)"));
  // The client learns the class, not the address inside someone's network.
  s = policy.CheckResolvedAddress(url, *IpAddress::Parse("10.20.30.40"));
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("10.20.30.40")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("resolves to a private address"));
  EXPECT_THAT(
      std::string(policy.CheckResolvedAddress(url, *IpAddress::Parse("::ffff:10.0.0.1")).message()),
      HasSubstr("(IPv4-mapped)"));
  // A denied address is denied however it is reached.
  EXPECT_THAT(std::string(policy.CheckResolvedAddress(url, *IpAddress::Parse("8.8.4.4")).message()),
              HasSubstr("resolves to a disallowed address"));

  // A host named in allowed_hosts is trusted with what it resolves to (an internal mirror).
  const UriPolicy mirror = Policy({.allowed_hosts = "mirror.internal"});
  const Url internal = *mirror.CheckUri("http://mirror.internal/");
  EXPECT_TRUE(mirror.CheckResolvedAddress(internal, *IpAddress::Parse("10.0.0.5")).ok());
  EXPECT_TRUE(mirror.CheckResolvedAddress(internal, *IpAddress::Parse("127.0.0.1")).ok());
}

TEST(UriPolicyTest, ConfigErrorsNameTheOption) {
  struct Case {
    UriFilterConfig config;
    const char* message;
  };
  const Case cases[] = {
      {{.allowed_ports = "80,,443"},
       "web_download_allowed_ports (GAZE_WEB_DOWNLOAD_ALLOWED_PORTS): empty entry in \"80,,443\""},
      {{.allowed_ports = "80,"}, "empty entry"},
      {{.allowed_ports = "80 443"}, "\"80 443\" is not a port number (1-65535)"},
      {{.allowed_ports = "0"}, "\"0\" is not a port number"},
      {{.allowed_ports = "65536"}, "\"65536\" is not a port number"},
      {{.allowed_ports = "-1"}, "\"-1\" is not a port number"},
      {{.allowed_ports = "+80"}, "\"+80\" is not a port number"},
      {{.disallowed_ports = "http"},
       "web_download_disallowed_ports (GAZE_WEB_DOWNLOAD_DISALLOWED_PORTS): \"http\""},
      {{.allowed_hosts = "127.1"},
       "web_download_allowed_hosts (GAZE_WEB_DOWNLOAD_ALLOWED_HOSTS): host 127.1 is not a "
       "canonical IP address or host name"},
      {{.allowed_hosts = "example.org,,"}, "empty entry"},
      {{.disallowed_hosts = "http://example.org/"}, "web_download_disallowed_hosts"},
      {{.allowed_hosts = "[::1"}, "not a canonical"},
      {{.allowed_schemes = "ftp"},
       "web_download_allowed_schemes (GAZE_WEB_DOWNLOAD_ALLOWED_SCHEMES): scheme \"ftp\" cannot "
       "be fetched; only http and https can"},
      {{.allowed_schemes = "file,http"}, "scheme \"file\" cannot be fetched"},
      {{.disallowed_schemes = "ht tp"}, "\"ht tp\" is not a URI scheme"},
      {{.disallowed_schemes = ","}, "empty entry"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<UriPolicy> policy = UriPolicy::Create(c.config);
    ASSERT_FALSE(policy.ok()) << c.message;
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(policy.status().message()), HasSubstr(c.message));
  }
  // Blanks around entries and an all-blank list (an empty list) are fine.
  EXPECT_TRUE(UriPolicy::Create({.allowed_schemes = " HTTPS , http ",
                                 .disallowed_schemes = "ftp, gopher",
                                 .allowed_hosts = " ",
                                 .allowed_ports = " 8080 ,443"})
                  .ok());
}

}  // namespace
}  // namespace gaze::fetch
