#include "api-gateway/public_url.h"

#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

Request From(std::string peer, std::vector<Header> headers) {
  Request r;
  r.peer = std::move(peer);
  r.headers = std::move(headers);
  return r;
}

TEST(PublicUrlTest, OnlyTrustedProxiesMayRewriteTheUrl) {
  auto url = PublicUrl::Create("http://gaze.internal:9292", {"10.0.0.0/8", "::1"});
  ASSERT_TRUE(url.ok()) << url.status();
  std::vector<Header> forwarded = {{"X-Forwarded-Proto", "https"},
                                   {"X-Forwarded-Host", "images.example.net"}};
  EXPECT_EQ(url->For(From("10.1.2.3", forwarded)), "https://images.example.net");
  EXPECT_EQ(url->For(From("::1", forwarded)), "https://images.example.net");
  EXPECT_EQ(url->For(From("192.168.1.1", forwarded)), "http://gaze.internal:9292");
  EXPECT_EQ(url->For(From("10.1.2.3", {})), "http://gaze.internal:9292");
  EXPECT_EQ(url->For(From("10.1.2.3", {{"X-Forwarded-Proto", "https"}})),
            "https://gaze.internal:9292");
  EXPECT_EQ(url->For(From("10.1.2.3", {{"X-Forwarded-Host", "a.example, b.example"}})),
            "http://a.example");
}

TEST(PublicUrlTest, HostileForwardedValuesAreIgnored) {
  auto url = PublicUrl::Create("http://gaze:9292", {"127.0.0.1"});
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->For(From("127.0.0.1", {{"X-Forwarded-Host", "evil.example/\r\nX: y"}})),
            "http://gaze:9292");
  EXPECT_EQ(url->For(From("127.0.0.1", {{"X-Forwarded-Proto", "javascript"}})), "http://gaze:9292");
}

TEST(PublicUrlTest, NoTrustedProxiesByDefault) {
  auto url = PublicUrl::Create("http://gaze:9292", {});
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->For(From("127.0.0.1", {{"X-Forwarded-Host", "x.example"}})), "http://gaze:9292");
}

TEST(PublicUrlTest, RejectsBadNetworks) {
  for (const char* bad : {"10.0.0.0/33", "nonsense", "10.0.0.0/x", "::1/129"}) {
    EXPECT_FALSE(PublicUrl::Create("http://gaze", {bad}).ok()) << bad;
  }
}

}  // namespace
}  // namespace gaze::gateway
