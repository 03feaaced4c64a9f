#include "services/keystone/token_cache.h"

#include "gtest/gtest.h"

namespace gaze::keystone {
namespace {

auth::Identity Someone(std::string project) {
  auth::Identity id;
  id.user_id = "u";
  id.project_id = std::move(project);
  return id;
}

TEST(TokenCacheTest, ValidUntilTheEarlierOfExpiryAndTtl) {
  TokenCache cache({.capacity = 10, .ttl = absl::Minutes(5), .rejected_ttl = absl::Seconds(30)});
  absl::Time now = absl::FromUnixSeconds(1000000);
  cache.PutValid("long", Someone("p1"), now + absl::Hours(1), now);
  cache.PutValid("short", Someone("p2"), now + absl::Seconds(10), now);
  auth::Identity id;
  EXPECT_EQ(cache.Lookup("long", now + absl::Minutes(4), &id), TokenCache::Verdict::kValid);
  EXPECT_EQ(id.project_id, "p1");
  EXPECT_EQ(cache.Lookup("long", now + absl::Minutes(6), &id), TokenCache::Verdict::kMiss);
  EXPECT_EQ(cache.Lookup("short", now + absl::Seconds(9), &id), TokenCache::Verdict::kValid);
  EXPECT_EQ(cache.Lookup("short", now + absl::Seconds(11), &id), TokenCache::Verdict::kMiss);
  EXPECT_EQ(cache.Lookup("never", now, &id), TokenCache::Verdict::kMiss);
}

TEST(TokenCacheTest, RejectedTokensAreRememberedBriefly) {
  TokenCache cache({.capacity = 10, .ttl = absl::Minutes(5), .rejected_ttl = absl::Seconds(30)});
  absl::Time now = absl::FromUnixSeconds(1000000);
  cache.PutRejected("bad", now);
  auth::Identity id;
  EXPECT_EQ(cache.Lookup("bad", now + absl::Seconds(29), &id), TokenCache::Verdict::kRejected);
  EXPECT_EQ(cache.Lookup("bad", now + absl::Seconds(31), &id), TokenCache::Verdict::kMiss);
}

TEST(TokenCacheTest, BoundedWithLeastRecentlyUsedEviction) {
  TokenCache cache({.capacity = 2, .ttl = absl::Minutes(5), .rejected_ttl = absl::Seconds(30)});
  absl::Time now = absl::FromUnixSeconds(1000000);
  auth::Identity id;
  cache.PutValid("a", Someone("a"), now + absl::Hours(1), now);
  cache.PutValid("b", Someone("b"), now + absl::Hours(1), now);
  EXPECT_EQ(cache.Lookup("a", now, &id), TokenCache::Verdict::kValid);  // a is now recent
  cache.PutValid("c", Someone("c"), now + absl::Hours(1), now);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Lookup("b", now, &id), TokenCache::Verdict::kMiss);
  EXPECT_EQ(cache.Lookup("a", now, &id), TokenCache::Verdict::kValid);
  EXPECT_EQ(cache.Lookup("c", now, &id), TokenCache::Verdict::kValid);
}

TEST(TokenCacheTest, KeysAreHashesNotTokens) {
  std::string key = TokenCache::KeyOf("secret-token");
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find("secret"), std::string::npos);
  EXPECT_NE(key, TokenCache::KeyOf("secret-token2"));
}

}  // namespace
}  // namespace gaze::keystone
