#include "services/common/json_string.h"

#include "gtest/gtest.h"

namespace gaze {
namespace {

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  std::string out;
  AppendJsonString(out, std::string("a\"b\\c/\b\f\n\r\t") + '\x01' + '\x1f');
  EXPECT_EQ(out, R"("a\"b\\c/\b\f\n\r\t\u0001\u001f")");
}

TEST(JsonStringTest, PassesUtf8AndDelThrough) {
  std::string out = "x";
  AppendJsonString(out, "\x7f \xc3\xa9");
  EXPECT_EQ(out, "x\"\x7f \xc3\xa9\"");
  out.clear();
  AppendJsonString(out, "");
  EXPECT_EQ(out, "\"\"");
}

}  // namespace
}  // namespace gaze
