#include "services/common/ids.h"

#include <set>

#include "gtest/gtest.h"

namespace gaze {
namespace {

TEST(IdsTest, NewUuidIsCanonicalVersion4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUuid();
    ASSERT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(IdsTest, IsUuidRejectsOtherShapes) {
  EXPECT_TRUE(IsUuid("6F1D6A5E-3C0B-4F5E-9A53-2B7F7F0D7A11"));
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("6f1d6a5e3c0b4f5e9a532b7f7f0d7a11"));
  EXPECT_FALSE(IsUuid("6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a1g"));
  EXPECT_FALSE(IsUuid("6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a111"));
  EXPECT_FALSE(IsUuid("6f1d6a5e_3c0b-4f5e-9a53-2b7f7f0d7a11"));
}

TEST(IdsTest, RequestIdHasGlancePrefix) {
  std::string rid = NewRequestId();
  EXPECT_EQ(rid.rfind("req-", 0), 0u);
  EXPECT_TRUE(IsUuid(rid.substr(4)));
}

}  // namespace
}  // namespace gaze
