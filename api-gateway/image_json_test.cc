#include "api-gateway/image_json.h"

#include <boost/json.hpp>

#include "api-gateway/schemas.h"
#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

auth::Identity Member(std::string project = "p1") {
  auth::Identity id;
  id.user_id = "u1";
  id.project_id = std::move(project);
  id.roles = {"member", "reader"};
  return id;
}

auth::Identity Admin() {
  auth::Identity id = Member("admin-project");
  id.roles.push_back("admin");
  id.is_admin = true;
  return id;
}

TEST(ImageJsonTest, SerializesEveryBaseAttribute) {
  v1::Image image;
  image.set_id("6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11");
  image.set_status(v1::IMAGE_STATUS_ACTIVE);
  image.set_visibility(v1::VISIBILITY_SHARED);
  image.set_disk_format("qcow2");
  image.set_size(42);
  image.add_tags("lts");
  image.mutable_created_at()->set_seconds(1772359200);  // 2026-03-01T10:00:00Z
  image.mutable_updated_at()->set_seconds(1772359331);
  (*image.mutable_properties())["os_distro"] = "debian";
  json::object o = json::parse(SerializeImage(image)).as_object();
  for (const char* key :
       {"id",           "name",     "status",       "visibility",       "protected",
        "os_hidden",    "owner",    "disk_format",  "container_format", "size",
        "virtual_size", "checksum", "os_hash_algo", "os_hash_value",    "min_ram",
        "min_disk",     "tags",     "created_at",   "updated_at",       "self",
        "file",         "schema"}) {
    EXPECT_TRUE(o.contains(key)) << key;
  }
  EXPECT_TRUE(o["name"].is_null());
  EXPECT_TRUE(o["virtual_size"].is_null());
  EXPECT_EQ(o["size"].as_int64(), 42);
  EXPECT_EQ(o["status"].as_string(), "active");
  EXPECT_EQ(o["created_at"].as_string(), "2026-03-01T10:00:00Z");
  EXPECT_EQ(o["self"].as_string(), "/v2/images/6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11");
  EXPECT_EQ(o["file"].as_string(), "/v2/images/6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11/file");
  EXPECT_EQ(o["os_distro"].as_string(), "debian");
  EXPECT_FALSE(o.contains("locations"));
  EXPECT_FALSE(o.contains("version"));
}

TEST(ImageJsonTest, StringsAreEscaped) {
  const std::string nasty = std::string("q\"b\\s/\b\f\n\r\t") + '\x01' + '\x1f' + "\x7f é";
  v1::Image image;
  image.set_id("6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11");
  image.set_name(nasty);
  image.add_tags(nasty);
  (*image.mutable_properties())[nasty] = nasty;
  json::object o = json::parse(SerializeImage(image)).as_object();
  EXPECT_EQ(o["name"].as_string(), nasty);
  EXPECT_EQ(o["tags"].as_array().at(0).as_string(), nasty);
  EXPECT_EQ(o[nasty].as_string(), nasty);
}

TEST(ImageJsonTest, TimestampsAcrossTheCalendar) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(951782400), "2000-02-29T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(951868799), "2000-02-29T23:59:59Z");
  EXPECT_EQ(FormatTimestamp(4107542399), "2100-02-28T23:59:59Z");
  EXPECT_EQ(FormatTimestamp(4107542400), "2100-03-01T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatTimestamp(253402300799), "9999-12-31T23:59:59Z");
}

TEST(ImageJsonTest, BaseAttributesWinOverPropertiesOfTheSameName) {
  v1::Image image;
  image.set_id("6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11");
  image.set_status(v1::IMAGE_STATUS_ACTIVE);
  (*image.mutable_properties())["status"] = "queued";
  (*image.mutable_properties())["os_glance_import_task"] = "t1";
  const std::string body = SerializeImage(image);
  EXPECT_EQ(body.find("\"status\""), body.rfind("\"status\"")) << body;
  json::object o = json::parse(body).as_object();
  EXPECT_EQ(o["status"].as_string(), "active");
  EXPECT_EQ(o["os_glance_import_task"].as_string(), "t1");
}

TEST(ImageJsonTest, ListBody) {
  v1::Image a, b;
  a.set_id("6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11");
  b.set_id("7f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a12");
  ImageListWriter page;
  page.Reserve(2);
  page.Add(a);
  page.Add(b);
  json::object o =
      json::parse(std::move(page).Finish("/v2/images?limit=2", "/v2/images?limit=2&marker=7f"))
          .as_object();
  ASSERT_EQ(o["images"].as_array().size(), 2u);
  EXPECT_EQ(o["images"].as_array()[1].as_object().at("id").as_string(), b.id());
  EXPECT_EQ(o["first"].as_string(), "/v2/images?limit=2");
  EXPECT_EQ(o["schema"].as_string(), "/v2/schemas/images");
  EXPECT_EQ(o["next"].as_string(), "/v2/images?limit=2&marker=7f");

  EXPECT_EQ(ImageListWriter().Finish("/v2/images", std::nullopt),
            R"({"images":[],"first":"/v2/images","schema":"/v2/schemas/images"})");
}

TEST(ImageJsonTest, CreateDefaultsAndProperties) {
  auto image = ParseCreateBody(
      R"({"name":"deb12","disk_format":"qcow2","container_format":"bare","min_disk":2,
          "tags":["a","b","a"],"os_distro":"debian","protected":true})",
      Member());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->name(), "deb12");
  EXPECT_EQ(image->owner(), "p1");
  EXPECT_EQ(image->visibility(), v1::VISIBILITY_SHARED);
  EXPECT_EQ(image->min_disk(), 2);
  EXPECT_TRUE(image->protected_());
  EXPECT_EQ(image->tags_size(), 2);
  EXPECT_EQ(image->properties().at("os_distro"), "debian");
  EXPECT_TRUE(image->id().empty());
}

TEST(ImageJsonTest, CreateRejections) {
  struct Case {
    const char* body;
    absl::StatusCode code;
  };
  for (Case c : {
           Case{"{", absl::StatusCode::kInvalidArgument},
           {"[]", absl::StatusCode::kInvalidArgument},
           {R"({"disk_format":"floppy"})", absl::StatusCode::kInvalidArgument},
           {R"({"name":5})", absl::StatusCode::kInvalidArgument},
           {R"({"min_ram":-1})", absl::StatusCode::kInvalidArgument},
           {R"({"min_ram":"1"})", absl::StatusCode::kInvalidArgument},
           {R"({"id":"not-a-uuid"})", absl::StatusCode::kInvalidArgument},
           {R"({"visibility":"everyone"})", absl::StatusCode::kInvalidArgument},
           {R"({"os_distro":5})", absl::StatusCode::kInvalidArgument},
           {R"({"tags":[1]})", absl::StatusCode::kInvalidArgument},
           {R"({"status":"active"})", absl::StatusCode::kPermissionDenied},
           {R"({"size":1})", absl::StatusCode::kPermissionDenied},
           {R"({"self":"x"})", absl::StatusCode::kPermissionDenied},
           {R"({"locations":[]})", absl::StatusCode::kPermissionDenied},
           {R"({"os_glance_import_task":"x"})", absl::StatusCode::kPermissionDenied},
           {R"({"os_hash_value":"x"})", absl::StatusCode::kPermissionDenied},
           {R"({"owner":"someone-else"})", absl::StatusCode::kPermissionDenied},
       }) {
    EXPECT_EQ(ParseCreateBody(c.body, Member()).status().code(), c.code) << c.body;
  }
  std::string long_name = R"({"name":")" + std::string(256, 'x') + R"("})";
  EXPECT_EQ(ParseCreateBody(long_name, Member()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ImageJsonTest, AdminMayPublicizeAndSetOwner) {
  auto image = ParseCreateBody(R"({"visibility":"public","owner":"p9",
                                   "id":"6F1D6A5E-3C0B-4F5E-9A53-2B7F7F0D7A11"})",
                               Admin());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->visibility(), v1::VISIBILITY_PUBLIC);
  EXPECT_EQ(image->owner(), "p9");
  EXPECT_EQ(image->id(), "6F1D6A5E-3C0B-4F5E-9A53-2B7F7F0D7A11");
}

TEST(ImageJsonTest, SchemasAreValidJsonWithFormatEnums) {
  json::value image = json::parse(ImageSchemaJson());
  const json::object& props = image.at("properties").as_object();
  const json::array& disk = props.at("disk_format").at("enum").as_array();
  EXPECT_TRUE(disk.at(0).is_null());
  EXPECT_EQ(disk.at(8).as_string(), "qcow2");
  EXPECT_EQ(props.at("os_distro").at("is_base").as_bool(), false);
  EXPECT_EQ(image.at("additionalProperties").at("type").as_string(), "string");
  EXPECT_FALSE(props.contains("stores")) << "single store: no stores attribute";
  json::value images = json::parse(ImagesSchemaJson());
  EXPECT_EQ(images.at("properties").at("images").at("items").at("name").as_string(), "image");
}

}  // namespace
}  // namespace gaze::gateway
