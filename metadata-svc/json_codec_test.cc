#include "metadata-svc/json_codec.h"

#include <map>

#include "gtest/gtest.h"

namespace gaze::metadata {
namespace {

TEST(JsonCodecTest, PropertiesRoundTrip) {
  StringMap in;
  in["os_distro"] = "debian";
  in["quote\"key"] = "ünïcode\n";
  StringMap out;
  ASSERT_TRUE(PropertiesFromJson(PropertiesToJson(in), &out).ok());
  using Sorted = std::map<std::string, std::string>;
  EXPECT_EQ(Sorted(out.begin(), out.end()), Sorted(in.begin(), in.end()));
}

TEST(JsonCodecTest, NonStringPropertiesAreRenderedAsText) {
  StringMap out;
  ASSERT_TRUE(PropertiesFromJson(R"({"a": null, "b": 3, "c": true})", &out).ok());
  EXPECT_EQ(out.at("a"), "");
  EXPECT_EQ(out.at("b"), "3");
  EXPECT_EQ(out.at("c"), "true");
  EXPECT_FALSE(PropertiesFromJson("[1]", &out).ok());
  EXPECT_FALSE(PropertiesFromJson("{", &out).ok());
}

TEST(JsonCodecTest, Locations) {
  v1::Location loc;
  loc.set_url("file:///var/lib/gaze/x");
  (*loc.mutable_metadata())["store"] = "fast";
  google::protobuf::RepeatedPtrField<v1::Location> out;
  ASSERT_TRUE(LocationsFromJson("[" + LocationToJson(loc) + "]", &out).ok());
  ASSERT_EQ(out.size(), 1);
  EXPECT_EQ(out[0].url(), "file:///var/lib/gaze/x");
  EXPECT_EQ(out[0].metadata().at("store"), "fast");
  out.Clear();
  ASSERT_TRUE(LocationsFromJson("[]", &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(JsonCodecTest, TagsAndDeleteDataInput) {
  google::protobuf::RepeatedPtrField<std::string> tags;
  ASSERT_TRUE(StringsFromJson(R"(["a","b"])", &tags).ok());
  EXPECT_EQ(tags.size(), 2);

  v1::DeleteDataInput in;
  in.add_urls("file:///a");
  in.add_urls("s3://b/c");
  EXPECT_EQ(DeleteDataInputToJson(in), R"({"urls":["file:///a","s3://b/c"]})");
  v1::DeleteDataInput out;
  ASSERT_TRUE(DeleteDataInputFromJson(DeleteDataInputToJson(in), &out).ok());
  EXPECT_EQ(out.urls_size(), 2);
  EXPECT_FALSE(DeleteDataInputFromJson("{}", &out).ok());
}

TEST(JsonCodecTest, ImportInputRoundTrip) {
  v1::ImportInput in;
  in.set_method(v1::IMPORT_METHOD_GLANCE_DIRECT);
  in.set_staging_url("file:///staging/x");
  in.set_disk_format("qcow2");
  in.set_container_format("bare");
  v1::ImportInput out;
  ASSERT_TRUE(ImportInputFromJson(ImportInputToJson(in), &out).ok());
  EXPECT_EQ(out.method(), v1::IMPORT_METHOD_GLANCE_DIRECT);
  EXPECT_EQ(out.staging_url(), "file:///staging/x");
  EXPECT_EQ(out.uri(), "");
  EXPECT_EQ(out.disk_format(), "qcow2");
  EXPECT_EQ(out.container_format(), "bare");
  EXPECT_NE(ImportInputToJson(in).find(R"("method":"glance-direct")"), std::string::npos);
  EXPECT_FALSE(ImportInputFromJson("[]", &out).ok());
}

TEST(JsonCodecTest, JsonObjectsOnly) {
  EXPECT_TRUE(ValidateJsonObject(R"({"method": {"name": "web-download"}})", "body").ok());
  for (const char* bad : {"", "[]", "3", "{", "\"x\""}) {
    absl::Status s = ValidateJsonObject(bad, "request_json");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message(), "request_json must be a JSON object");
  }
}

}  // namespace
}  // namespace gaze::metadata
