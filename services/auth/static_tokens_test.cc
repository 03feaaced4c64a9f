#include "services/auth/static_tokens.h"

#include "gtest/gtest.h"

namespace gaze::auth {
namespace {

TEST(StaticTokensTest, ParsesEntriesAndLowersRoles) {
  auto tokens = StaticTokens::Parse(R"({"tokens":[
    {"token":"a","user_id":"u1","user_name":"admin","project_id":"p1","roles":["Admin","member"]},
    {"token":"b","user_id":"u2","project_id":"p2","roles":["member","reader"]}]})");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ((*tokens)->size(), 2u);
  auto admin = (*tokens)->Authenticate("a");
  ASSERT_TRUE(admin.has_value());
  EXPECT_FALSE(admin->is_admin) << "is_admin is the policy's decision";
  EXPECT_EQ(admin->roles.front(), "admin");
  EXPECT_EQ(admin->project_id, "p1");
  auto member = (*tokens)->Authenticate("b");
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(member->user_name, "");
  EXPECT_FALSE((*tokens)->Authenticate("c").has_value());
  EXPECT_FALSE((*tokens)->Authenticate("").has_value());
}

TEST(StaticTokensTest, RejectsBadFiles) {
  for (const char* text :
       {"", "[]", "{\"tokens\":{}}", "{\"tokens\":[1]}",
        R"({"tokens":[{"token":"a","project_id":"p"}]})",
        R"({"tokens":[{"token":"","user_id":"u","project_id":"p"}]})",
        R"({"tokens":[{"token":"a","user_id":"u","project_id":"p","roles":"x"}]})",
        R"({"tokens":[{"token":"a","user_id":"u","project_id":"p"},
                                         {"token":"a","user_id":"v","project_id":"q"}]})"}) {
    EXPECT_EQ(StaticTokens::Parse(text).status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(StaticTokensTest, MissingFile) {
  EXPECT_EQ(StaticTokens::LoadFile("/nonexistent/tokens.json").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gaze::auth
