#include "services/auth/policy.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace gaze::auth {
namespace {

Identity Caller(std::string project, std::vector<std::string> roles) {
  Identity id;
  id.user_id = "u-" + project;
  id.project_id = std::move(project);
  id.roles = std::move(roles);
  return id;
}

// Keystone expands implied roles: admin ⊃ member ⊃ reader.
Identity Admin() {
  Identity id = Caller("admin-project", {"admin", "member", "reader"});
  id.is_admin = true;
  return id;
}
Identity OwnerMember() { return Caller("owner-project", {"member", "reader"}); }
Identity OwnerReader() { return Caller("owner-project", {"reader"}); }
Identity OtherMember() { return Caller("other-project", {"member", "reader"}); }
Identity ImageMember() { return Caller("member-project", {"member", "reader"}); }

// A private image of owner-project that member-project is a member of, as the gateway
// describes it to the policy.
PolicyTarget Image(std::string visibility = "private") {
  return {{"project_id", "owner-project"},
          {"owner", "owner-project"},
          {"visibility", std::move(visibility)},
          {"member_id", "member-project"}};
}

TEST(PolicyTest, EveryDefaultRuleForEveryPersona) {
  // Allowed for: admin, member of the owner, reader of the owner, member of another project,
  // member of a project the image is shared with.
  struct Row {
    bool admin, owner_member, owner_reader, other_member, image_member;
  };
  const Row all{true, true, true, true, true};
  const Row admin_only{true, false, false, false, false};
  const Row nobody{false, false, false, false, false};
  const Row owner_member{true, true, false, false, false};
  const Row owner_reader{true, true, true, false, false};
  const std::map<std::string_view, Row> expected = {
      {"default", all},
      {"context_is_admin", admin_only},
      {"service_api", nobody},
      {"add_image", owner_member},
      {"delete_image", owner_member},
      {"get_image", {true, true, true, false, true}},
      {"get_images", owner_reader},
      {"modify_image", owner_member},
      {"publicize_image", admin_only},
      {"communitize_image", owner_member},
      {"download_image", {true, true, false, false, true}},
      {"upload_image", owner_member},
      {"delete_image_location", admin_only},
      {"get_image_location", owner_reader},
      {"set_image_location", owner_member},
      {"add_image_location", owner_member},
      {"fetch_image_location", nobody},
      {"add_member", owner_member},
      {"delete_member", owner_member},
      {"get_member", {true, true, true, false, true}},
      {"get_members", {true, true, true, false, true}},
      {"modify_member", {true, false, false, false, true}},
      {"manage_image_cache", admin_only},
      {"deactivate", owner_member},
      {"reactivate", owner_member},
      {"copy_image", admin_only},
      {"get_task", all},
      {"get_tasks", all},
      {"add_task", all},
      {"modify_task", all},
      {"tasks_api_access", admin_only},
      {"cache_image", admin_only},
      {"cache_list", admin_only},
      {"cache_delete", admin_only},
      {"cache_clean", admin_only},
      {"cache_prune", admin_only},
      {"list_cached_nodes", admin_only},
      {"stores_info_detail", admin_only},
      {"metadef_admin", admin_only},
      {"get_metadef_namespace", owner_reader},
      {"get_metadef_namespaces", owner_reader},
      {"modify_metadef_namespace", admin_only},
      {"add_metadef_namespace", admin_only},
      {"delete_metadef_namespace", admin_only},
      {"get_metadef_object", owner_reader},
      {"get_metadef_objects", owner_reader},
      {"modify_metadef_object", admin_only},
      {"add_metadef_object", admin_only},
      {"delete_metadef_object", admin_only},
      {"list_metadef_resource_types", owner_reader},
      {"get_metadef_resource_type", owner_reader},
      {"add_metadef_resource_type_association", admin_only},
      {"remove_metadef_resource_type_association", admin_only},
      {"get_metadef_property", owner_reader},
      {"get_metadef_properties", owner_reader},
      {"modify_metadef_property", admin_only},
      {"add_metadef_property", admin_only},
      {"remove_metadef_property", admin_only},
      {"get_metadef_tag", owner_reader},
      {"get_metadef_tags", owner_reader},
      {"modify_metadef_tag", admin_only},
      {"add_metadef_tag", admin_only},
      {"add_metadef_tags", admin_only},
      {"delete_metadef_tag", admin_only},
      {"delete_metadef_tags", admin_only},
  };
  Policy policy;
  const PolicyTarget target = Image();
  ASSERT_EQ(Policy::Defaults().size(), expected.size());
  for (const DefaultRule& rule : Policy::Defaults()) {
    auto it = expected.find(rule.name);
    ASSERT_NE(it, expected.end()) << "no expectation for " << rule.name;
    const Row& row = it->second;
    for (auto [persona, caller, allowed] :
         {std::tuple{"admin", Admin(), row.admin},
          std::tuple{"member of owner", OwnerMember(), row.owner_member},
          std::tuple{"reader of owner", OwnerReader(), row.owner_reader},
          std::tuple{"member of other project", OtherMember(), row.other_member},
          std::tuple{"image member", ImageMember(), row.image_member}}) {
      EXPECT_EQ(policy.Allowed(rule.name, caller, target), allowed)
          << rule.name << " for " << persona;
    }
  }
}

TEST(PolicyTest, VisibilityOpensGetAndDownload) {
  Policy policy;
  const Identity reader_elsewhere = Caller("other-project", {"reader"});
  for (const char* visibility : {"public", "community", "shared"}) {
    PolicyTarget target = Image(visibility);
    target.erase("member_id");
    EXPECT_TRUE(policy.Allowed("get_image", reader_elsewhere, target)) << visibility;
    EXPECT_TRUE(policy.Allowed("download_image", OtherMember(), target)) << visibility;
    EXPECT_FALSE(policy.Allowed("download_image", reader_elsewhere, target))
        << "download needs the member role: " << visibility;
    EXPECT_FALSE(policy.Allowed("modify_image", OtherMember(), target)) << visibility;
  }
  PolicyTarget private_image = Image();
  private_image.erase("member_id");
  EXPECT_FALSE(policy.Allowed("get_image", reader_elsewhere, private_image));
}

TEST(PolicyTest, CreateNeedsOwnProjectUnlessAdmin) {
  Policy policy;
  PolicyTarget own = {{"project_id", "owner-project"}, {"owner", "owner-project"}};
  PolicyTarget foreign = {{"project_id", "owner-project"}, {"owner", "elsewhere"}};
  EXPECT_TRUE(policy.Allowed("add_image", OwnerMember(), own));
  EXPECT_FALSE(policy.Allowed("add_image", OwnerMember(), foreign));
  EXPECT_FALSE(policy.Allowed("add_image", OwnerReader(), own));
  EXPECT_TRUE(policy.Allowed("add_image", Admin(), foreign));
}

TEST(PolicyTest, IsAdminFollowsContextIsAdmin) {
  Policy defaults;
  EXPECT_TRUE(defaults.IsAdmin(Caller("p", {"admin"})));
  EXPECT_TRUE(defaults.IsAdmin(Caller("p", {"ADMIN"}))) << "roles compare case-insensitively";
  EXPECT_FALSE(defaults.IsAdmin(OwnerMember()));
  auto custom = Policy::WithOverrides(R"("context_is_admin": "role:cloud_admin")");
  ASSERT_TRUE(custom.ok()) << custom.status();
  EXPECT_FALSE(custom->IsAdmin(Caller("p", {"admin"})));
  EXPECT_TRUE(custom->IsAdmin(Caller("p", {"cloud_admin"})));
}

TEST(PolicyTest, CheckLanguage) {
  struct Case {
    const char* check;
    bool allowed;  // for OwnerMember() on Image("shared")
  };
  for (Case c : {
           Case{"", true},
           {"@", true},
           {"!", false},
           {"role:member", true},
           {"role:MEMBER", true},
           {"role:admin", false},
           {"not role:admin", true},
           {"not not role:admin", false},
           {"role:admin or role:member", true},
           {"role:admin and role:member", false},
           {"role:admin or role:member and project_id:nope", false},  // and binds tighter
           {"(role:admin or role:member) and project_id:owner-project", true},
           {"((role:admin)) OR (role:reader AND NOT role:admin)", true},
           {"project_id:%(project_id)s", true},
           {"project_id:%(owner)s and user_id:u-owner-project", true},
           {"tenant:%(project_id)s and user:u-owner-project", true},
           {"project_id:%(no_such_field)s", false},
           {"roles:reader", true},
           {"is_admin:False", true},
           {"is_admin:True", false},
           {"system_scope:all", false},  // a credential Gaze does not have
           {"\"shared\":%(visibility)s", true},
           {"'shared':%(visibility)s", true},
           {"\"public\":%(visibility)s", false},
           {"True:True", true},
           {"7:7", true},
           {"project_id:owner-%%", false},
           {"not (role:admin or \"public\":%(visibility)s)", true},
           {"rule:context_is_admin", false},
           {"rule:modify_image", true},
       }) {
    auto policy = Policy::WithOverrides(std::string("{\"probe\": \"") + [&] {
      std::string escaped;
      for (const char* p = c.check; *p; ++p) {
        if (*p == '"' || *p == '\\') escaped += '\\';
        escaped += *p;
      }
      return escaped;
    }() + "\"}");
    ASSERT_TRUE(policy.ok()) << c.check << ": " << policy.status();
    EXPECT_EQ(policy->Allowed("probe", OwnerMember(), Image("shared")), c.allowed) << c.check;
  }
}

TEST(PolicyTest, PercentEscapes) {
  auto policy = Policy::WithOverrides(R"({"probe": "project_id:100%%-%(owner)s"})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(policy->Allowed("probe", Caller("100%-x", {}), {{"owner", "x"}}));
}

TEST(PolicyTest, OverridesReplaceAndAdd) {
  auto policy = Policy::WithOverrides(R"(# operator policy
"readers_of_owner": "role:reader and project_id:%(project_id)s"
"modify_image": "rule:readers_of_owner"
download_image: "!"
)");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(policy->Allowed("modify_image", OwnerReader(), Image()));
  EXPECT_FALSE(policy->Allowed("modify_image", OtherMember(), Image()));
  EXPECT_FALSE(policy->Allowed("download_image", Admin(), Image()));
  // Untouched rules keep their defaults.
  EXPECT_TRUE(policy->Allowed("delete_image", OwnerMember(), Image()));
  EXPECT_FALSE(policy->Allowed("delete_image", OwnerReader(), Image()));
  EXPECT_FALSE(policy->Allowed("no_such_rule", Admin(), Image())) << "unknown rules deny";
}

TEST(PolicyTest, RejectsBrokenRules) {
  for (const char* check : {
           "role:admin or",
           "or role:admin",
           "(role:admin",
           "role:admin)",
           "role:admin role:member",
           "and",
           "not",
           "()",
           "admin",
           "\"shared\"",
           ":x",
           "rule:",
           "http://policy.example.com",
           "https:x",
           "role:%(x",
           "project_id:%(x)d",
           "project_id:%",
           "\"shared:%(visibility)s",
           "rule:no_such_rule",
       }) {
    std::string file = std::string("probe: '") + check + "'\n";
    auto policy = Policy::WithOverrides(file);
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument) << check;
  }
}

TEST(PolicyTest, ErrorsNameTheRuleAndLine) {
  auto policy =
      Policy::WithOverrides("# comment\n\"a\": \"@\"\n\"get_image\": \"role:admin or\"\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.status().message().find("rule \"get_image\" (line 3)"), std::string::npos)
      << policy.status();
}

TEST(PolicyTest, RejectsCycles) {
  auto policy = Policy::WithOverrides(R"(a: rule:b
b: rule:c
c: rule:a
)");
  ASSERT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(policy.status().message().find("cycle"), std::string::npos) << policy.status();
  EXPECT_FALSE(Policy::WithOverrides("default: rule:default\n").ok());
}

TEST(PolicyTest, MissingFile) {
  EXPECT_EQ(Policy::FromFile("/nonexistent/policy.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
TEST(PolicyTest, TargetAttributesFollowRuleReferences) {
  auto policy = Policy::WithOverrides(R"({"a": "rule:b or 'x':%(first)s",
                                          "b": "role:%(second)s and project_id:%(third)s"})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->TargetAttributes("a"),
            (std::set<std::string, std::less<>>{"first", "second", "third"}));
  EXPECT_TRUE(policy->TargetAttributes("no such rule").empty());
}

}  // namespace gaze::auth
