#include "api-gateway/http_message.h"

#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

TEST(HttpMessageTest, ParseTargetDecodesPathAndQuery) {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  ASSERT_TRUE(ParseTarget("/v2/images?name=a%20b&tag=x&tag=y+z&flag", &path, &query));
  EXPECT_EQ(path, "/v2/images");
  ASSERT_EQ(query.size(), 4u);
  EXPECT_EQ(query[0], (std::pair<std::string, std::string>{"name", "a b"}));
  EXPECT_EQ(query[1].second, "x");
  EXPECT_EQ(query[2].second, "y z");
  EXPECT_EQ(query[3], (std::pair<std::string, std::string>{"flag", ""}));
}

TEST(HttpMessageTest, ParseTargetRejectsBadInput) {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  EXPECT_FALSE(ParseTarget("v2/images", &path, &query));
  EXPECT_FALSE(ParseTarget("/v2/%zz", &path, &query));
  EXPECT_FALSE(ParseTarget("/v2/images?name=%4", &path, &query));
  EXPECT_FALSE(ParseTarget("/v2/images?name=%", &path, &query));
}

TEST(HttpMessageTest, PercentEncodeRoundTrip) {
  std::string in = "a b/c?d=e&f~g.h_i-j\xc3\xa9";
  std::string encoded = PercentEncode(in);
  EXPECT_EQ(encoded, "a%20b%2Fc%3Fd%3De%26f~g.h_i-j%C3%A9");
  std::string decoded;
  ASSERT_TRUE(PercentDecode(encoded, false, &decoded));
  EXPECT_EQ(decoded, in);
}

TEST(HttpMessageTest, FindHeaderIsCaseInsensitive) {
  Request r;
  r.headers = {{"X-Auth-Token", "t"}, {"content-type", "application/json"}};
  EXPECT_EQ(r.FindHeader("x-auth-token").value_or(""), "t");
  EXPECT_EQ(r.FindHeader("Content-Type").value_or(""), "application/json");
  EXPECT_FALSE(r.FindHeader("Accept").has_value());
}

}  // namespace
}  // namespace gaze::gateway
