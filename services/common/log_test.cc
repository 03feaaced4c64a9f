#include "services/common/log.h"

#include "gtest/gtest.h"

namespace gaze::log {
namespace {

TEST(LogTest, ParseLevel) {
  Level l = Level::kInfo;
  EXPECT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_TRUE(ParseLevel("error", &l));
  EXPECT_EQ(l, Level::kError);
  EXPECT_FALSE(ParseLevel("loud", &l));
}

TEST(LogTest, LevelFilter) {
  Init("test", Level::kWarning);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  Init("test", Level::kInfo);
  EXPECT_TRUE(Enabled(Level::kInfo));
}

}  // namespace
}  // namespace gaze::log
