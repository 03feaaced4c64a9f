#include "api-gateway/member_json.h"

#include <boost/json.hpp>

#include "api-gateway/schemas.h"
#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

v1::Member SampleMember() {
  v1::Member m;
  m.set_image_id("a96be11e-8536-4910-92cb-de50aa19dfe6");
  m.set_member_id("8989447062e04a818baf9e073fd04fa7");
  m.set_status(v1::MEMBER_STATUS_PENDING);
  m.mutable_created_at()->set_seconds(1379704939);  // 2013-09-20T19:22:19Z
  m.mutable_updated_at()->set_seconds(1379705131);  // 2013-09-20T19:25:31Z
  return m;
}

TEST(MemberJsonTest, MemberHasGlanceShape) {
  // Glance's api-ref sample image-member-create-response.json, key for key.
  json::value expected = json::parse(R"({
      "created_at": "2013-09-20T19:22:19Z",
      "image_id": "a96be11e-8536-4910-92cb-de50aa19dfe6",
      "member_id": "8989447062e04a818baf9e073fd04fa7",
      "schema": "/v2/schemas/member",
      "status": "pending",
      "updated_at": "2013-09-20T19:25:31Z"})");
  EXPECT_EQ(json::parse(SerializeMember(SampleMember())), expected);
  v1::Member accepted = SampleMember();
  accepted.set_status(v1::MEMBER_STATUS_ACCEPTED);
  EXPECT_EQ(json::parse(SerializeMember(accepted)).at("status"), "accepted");
  accepted.set_status(v1::MEMBER_STATUS_REJECTED);
  EXPECT_EQ(json::parse(SerializeMember(accepted)).at("status"), "rejected");
}

TEST(MemberJsonTest, MemberList) {
  v1::ListMembersResponse list;
  *list.add_members() = SampleMember();
  *list.add_members() = SampleMember();
  json::value doc = json::parse(SerializeMembers(list));
  EXPECT_EQ(doc.at("schema"), "/v2/schemas/members");
  EXPECT_EQ(doc.at("members").as_array().size(), 2u);
  EXPECT_EQ(doc.at("members").at(0).at("schema"), "/v2/schemas/member");
  EXPECT_EQ(json::parse(SerializeMembers({})),
            json::parse(R"({"members": [], "schema": "/v2/schemas/members"})"));
}

TEST(MemberJsonTest, AddMemberBody) {
  auto id = ParseAddMemberBody(R"({"member": "p2"})");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "p2");
  struct Case {
    const char* body;
    const char* message;
  };
  for (Case c :
       {Case{"", "Malformed JSON"}, Case{"{", "Malformed JSON"},
        Case{"[]", "must be a JSON object"}, Case{"{}", "Member to be added not specified"},
        Case{R"({"members": "p2"})", "Member to be added not specified"},
        Case{R"({"member": ""})", "Member can't be empty"},
        Case{R"({"member": 5})", "must be a string"},
        Case{R"({"member": null})", "must be a string"}}) {
    auto parsed = ParseAddMemberBody(c.body);
    ASSERT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos) << parsed.status();
  }
  std::string long_id = R"({"member": ")" + std::string(256, 'p') + R"("})";
  EXPECT_EQ(ParseAddMemberBody(long_id).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MemberJsonTest, MemberStatusBody) {
  for (auto [text, status] : {std::pair{"pending", v1::MEMBER_STATUS_PENDING},
                              std::pair{"accepted", v1::MEMBER_STATUS_ACCEPTED},
                              std::pair{"rejected", v1::MEMBER_STATUS_REJECTED}}) {
    auto parsed = ParseMemberStatusBody(std::string(R"({"status": ")") + text + "\"}");
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_EQ(*parsed, status);
  }
  for (const char* bad : {"{}", R"({"status": "ACCEPTED"})", R"({"status": "maybe"})",
                          R"({"status": 1})", R"({"status": null})", "[1]", "nope"}) {
    EXPECT_EQ(ParseMemberStatusBody(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(std::string(ParseMemberStatusBody("{}").status().message()), "Status not specified");
}

TEST(MemberJsonTest, Usage) {
  EXPECT_EQ(SerializeUsage({}), R"({"usage":{}})");
  v1::GetUsageResponse usage;
  for (auto [resource, limit, used] :
       {std::tuple{"image_size_total", 1024, 256}, std::tuple{"image_count_total", 10, 2}}) {
    v1::QuotaUsage* q = usage.add_usage();
    q->set_resource(resource);
    q->set_limit(limit);
    q->set_usage(used);
  }
  EXPECT_EQ(json::parse(SerializeUsage(usage)), json::parse(R"({"usage": {
      "image_size_total": {"limit": 1024, "usage": 256},
      "image_count_total": {"limit": 10, "usage": 2}}})"));
}

TEST(MemberJsonTest, SchemasMatchGlance) {
  constexpr const char* kUuid =
      "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";
  // Glance's api-ref samples schemas-image-member-show-response.json and
  // schemas-image-members-list-response.json.
  json::value member = json::parse(R"json({
    "name": "member",
    "properties": {
      "created_at": {"description": "Date and time of image member creation", "type": "string"},
      "image_id": {"description": "An identifier for the image", "pattern": "UUID", "type": "string"},
      "member_id": {"description": "An identifier for the image member (tenantId)", "type": "string"},
      "schema": {"readOnly": true, "type": "string"},
      "status": {"description": "The status of this image member",
                 "enum": ["pending", "accepted", "rejected"], "type": "string"},
      "updated_at": {"description": "Date and time of last modification of image member",
                     "type": "string"}}})json");
  member.at("properties").at("image_id").as_object()["pattern"] = kUuid;
  EXPECT_EQ(json::parse(MemberSchemaJson()), member);
  json::value members = json::object{
      {"links", json::array{json::object{{"href", "{schema}"}, {"rel", "describedby"}}}},
      {"name", "members"},
      {"properties", json::object{{"members", json::object{{"items", member}, {"type", "array"}}},
                                  {"schema", json::object{{"type", "string"}}}}}};
  EXPECT_EQ(json::parse(MembersSchemaJson()), members);
}

}  // namespace
}  // namespace gaze::gateway
