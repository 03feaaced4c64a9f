#include "metadata-svc/json_codec.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace gaze::metadata {
namespace {

using Strings = google::protobuf::RepeatedPtrField<std::string>;
using Sorted = std::map<std::string, std::string>;

TEST(JsonCodecTest, PropertiesRoundTrip) {
  StringMap in;
  in["os_distro"] = "debian";
  in["quote\"key"] = "ünïcode\n";
  StringMap out;
  ASSERT_TRUE(PropertiesFromJson(PropertiesToJson(in), &out).ok());
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

Sorted PropertiesOf(std::string_view json) {
  StringMap out;
  absl::Status s = PropertiesFromJson(json, &out);
  EXPECT_TRUE(s.ok()) << json << ": " << s;
  return Sorted(out.begin(), out.end());
}

std::vector<std::string> StringsOf(std::string_view json) {
  Strings out;
  absl::Status s = StringsFromJson(json, &out);
  EXPECT_TRUE(s.ok()) << json << ": " << s;
  return std::vector<std::string>(out.begin(), out.end());
}

TEST(JsonCodecTest, StringObjectsAndArraysInAnyWhitespace) {
  EXPECT_EQ(PropertiesOf(R"({"a": "b", "c": "d"})"), (Sorted{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(PropertiesOf(" {\n\t\"a\"\r:\"b\" ,\"c\":\"\"}\n"), (Sorted{{"a", "b"}, {"c", ""}}));
  EXPECT_EQ(PropertiesOf(R"({"a": "1", "a": "2"})"), (Sorted{{"a", "2"}}));  // the last wins
  EXPECT_EQ(PropertiesOf("{}"), Sorted());
  EXPECT_EQ(PropertiesOf(" { } "), Sorted());
  EXPECT_EQ(StringsOf(R"(["a", "b"])"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(StringsOf(" [ \"a\" ,\n\"\" ] "), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(StringsOf("[]"), std::vector<std::string>());
}

TEST(JsonCodecTest, StringEscapes) {
  EXPECT_EQ(StringsOf(R"(["q\"k", "\\ \/ \b\f\n\r\t"])"),
            (std::vector<std::string>{"q\"k", "\\ / \b\f\n\r\t"}));
  EXPECT_EQ(PropertiesOf(R"({"k\u00e9y": "\u20AC\u20ac"})"),
            (Sorted{{"k\u00e9y", "\u20ac\u20ac"}}));
  // U+1F600 as a surrogate pair, U+0000, and UTF-8 as it is (jsonb does not escape it).
  EXPECT_EQ(StringsOf(R"(["\ud83d\ude00", "a\u0000b", "ünï😀"])"),
            (std::vector<std::string>{"\U0001F600", std::string("a\0b", 3), "ünï😀"}));
}

TEST(JsonCodecTest, OtherShapesAreDecodedAsBefore) {
  EXPECT_EQ(
      PropertiesOf(R"({"s": "x", "n": 3, "z": null, "o": {"k": "v"}, "a": ["t"], "b": false})"),
      (Sorted{{"s", "x"},
              {"n", "3"},
              {"z", ""},
              {"o", R"({"k":"v"})"},
              {"a", R"(["t"])"},
              {"b", "false"}}));
  // Nothing of a partly scanned text is left behind when it turns out to have another shape.
  EXPECT_EQ(StringsOf(R"(["a", 1, null])"), (std::vector<std::string>{"a", "1", ""}));
}

TEST(JsonCodecTest, MalformedJsonIsAnError) {
  for (const char* bad :
       {"", "{", R"({"a": "b")", R"({"a": "b",})", R"({"a" "b"})", R"({"a": "b"} x)",
        R"({"a": "\x"})", R"({"a": "\u12"})", R"({"a": "\ud800"})", R"({"a": "\udc00"})",
        R"({"a": "\ud800\u0041"})", "{\"a\": \"\n\"}", "{\"a\": \"\xff\"}", "{\"a\": \"\xc0\xaf\"}",
        "{\"a\": \"\xed\xa0\x80\"}", "{\"a\": \"\xc3\"}"}) {
    StringMap out;
    EXPECT_EQ(PropertiesFromJson(bad, &out).code(), absl::StatusCode::kInternal) << bad;
  }
  for (const char* bad : {"[", R"(["a",])", R"(["a" "b"])", R"([] [])", R"(["\ud83d"])"}) {
    Strings out;
    EXPECT_EQ(StringsFromJson(bad, &out).code(), absl::StatusCode::kInternal) << bad;
    google::protobuf::RepeatedPtrField<v1::Location> locations;
    EXPECT_EQ(LocationsFromJson(bad, &locations).code(), absl::StatusCode::kInternal) << bad;
  }
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
  ASSERT_TRUE(LocationsFromJson(" [ ] ", &out).ok());
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
