#include "services/auth/policy_file.h"

#include "gtest/gtest.h"

namespace gaze::auth {
namespace {

TEST(PolicyFileTest, ReadsTheYamlOsloWrites) {
  auto entries = ParsePolicyFile(R"yaml(---
# Create new image
# POST  /v2/images
# Intended scope(s): project
#"add_image": "role:admin or (role:member and project_id:%(project_id)s)"

"publicize_image": "role:admin"   # only admins
'communitize_image': 'role:admin or project_id:%(project_id)s'
delete_image: role:admin or role:member
"quoted": "say \"hi\" \\ now"
'single': 'it''s'
"empty": ""
)yaml");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 6u);
  EXPECT_EQ((*entries)[0].name, "publicize_image");
  EXPECT_EQ((*entries)[0].rule, "role:admin");
  EXPECT_EQ((*entries)[0].line, 7);
  EXPECT_EQ((*entries)[1].name, "communitize_image");
  EXPECT_EQ((*entries)[1].rule, "role:admin or project_id:%(project_id)s");
  EXPECT_EQ((*entries)[2].name, "delete_image");
  EXPECT_EQ((*entries)[2].rule, "role:admin or role:member");
  EXPECT_EQ((*entries)[3].rule, "say \"hi\" \\ now");
  EXPECT_EQ((*entries)[4].rule, "it's");
  EXPECT_EQ((*entries)[5].rule, "");
}

TEST(PolicyFileTest, ReadsJson) {
  auto entries = ParsePolicyFile("\xEF\xBB\xBF {\"a\": \"@\", \"b\": \"role:admin\"}");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[1].name, "b");
  EXPECT_EQ((*entries)[1].rule, "role:admin");
  EXPECT_EQ((*entries)[1].line, 0);
}

TEST(PolicyFileTest, EmptyFilesAreEmpty) {
  for (const char* text : {"", "\n", "# nothing\n", "---\n", "{}"}) {
    auto entries = ParsePolicyFile(text);
    ASSERT_TRUE(entries.ok()) << text;
    EXPECT_TRUE(entries->empty()) << text;
  }
}

TEST(PolicyFileTest, RejectsWhatItDoesNotUnderstand) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (Case c : {
           Case{"a: b\n  c: d\n", "line 2: unexpected indentation"},
           Case{"a b\n", "line 1: expected ':'"},
           Case{"a:\n", "line 1: the rule \"a\" has no check string"},
           Case{"a: # later\n", "no check string"},
           Case{"a: @\n", "must be quoted"},
           Case{"a: !\n", "must be quoted"},
           Case{"a: [role:admin]\n", "must be quoted"},
           Case{"a: &x role:admin\n", "must be quoted"},
           Case{"a: |\n", "must be quoted"},
           Case{"a: x: y\n", "must be quoted"},
           Case{"- a\n", "must be quoted"},
           Case{"\"a\": \"role:admin\n", "unterminated"},
           Case{"'a': 'x\n", "unterminated"},
           Case{"\"a\": \"\\n\"\n", "unsupported escape"},
           Case{"\"a\": \"x\" y\n", "unexpected text"},
           Case{"a: x\na: y\n", "line 2: the rule \"a\" is defined twice"},
           Case{"\"\": x\n", "empty rule name"},
           Case{"{\"a\": [\"role:admin\"]}", "must be a string"},
           Case{"{\"a\": ", "not valid JSON"},
           Case{"[]", "must be quoted"},
       }) {
    auto entries = ParsePolicyFile(c.text);
    ASSERT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(entries.status().message().find(c.message), std::string::npos)
        << c.text << " -> " << entries.status();
  }
}

}  // namespace
}  // namespace gaze::auth
