#include "api-gateway/image_data.h"
#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

std::optional<ByteRange> Parse(std::string_view h, uint64_t size, RangeError* err,
                               bool legacy = false) {
  return ParseRange(h, legacy, size, err);
}

TEST(RangeTest, Forms) {
  RangeError err;
  auto r = Parse("bytes=0-99", 1000, &err);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->length, 100u);
  r = Parse("bytes=900-", 1000, &err);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 900u);
  EXPECT_EQ(r->length, 100u);
  r = Parse("bytes=-10", 1000, &err);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 990u);
  EXPECT_EQ(r->length, 10u);
  r = Parse("bytes=-5000", 1000, &err);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->length, 1000u);
  r = Parse("bytes=990-5000", 1000, &err);  // end clamped
  ASSERT_TRUE(r);
  EXPECT_EQ(r->length, 10u);
  r = Parse("bytes 10-19/*", 1000, &err, /*legacy=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 10u);
  EXPECT_EQ(r->length, 10u);
}

TEST(RangeTest, Errors) {
  RangeError err;
  EXPECT_FALSE(Parse("bytes=0-1,5-6", 100, &err));
  EXPECT_EQ(err, RangeError::kMultiple);
  EXPECT_FALSE(Parse("bytes=100-", 100, &err));
  EXPECT_EQ(err, RangeError::kUnsatisfiable);
  EXPECT_FALSE(Parse("bytes=-0", 100, &err));
  EXPECT_EQ(err, RangeError::kUnsatisfiable);
  for (std::string_view bad : {"bytes=5-1", "bytes=a-b", "items=0-1", "bytes=", "bytes=1"}) {
    EXPECT_FALSE(Parse(bad, 100, &err)) << bad;
    EXPECT_EQ(err, RangeError::kMalformed) << bad;
  }
}

}  // namespace
}  // namespace gaze::gateway
