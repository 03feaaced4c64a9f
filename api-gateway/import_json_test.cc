#include "api-gateway/import_json.h"

#include <boost/json.hpp>

#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

const std::vector<std::string> kEnabled = {"glance-direct", "web-download"};

TEST(ImportJsonTest, EnabledMethodsKeepTheirOrder) {
  auto methods = ParseImportMethods(" web-download , glance-direct");
  ASSERT_TRUE(methods.ok()) << methods.status();
  EXPECT_EQ(*methods, (std::vector<std::string>{"web-download", "glance-direct"}));
  methods = ParseImportMethods("");
  ASSERT_TRUE(methods.ok());
  EXPECT_TRUE(methods->empty());
}

TEST(ImportJsonTest, MethodsGazeCannotRunAreRefused) {
  for (const char* bad : {"copy-image", "glance-direct,copy-image", "glance-download",
                          "web_download", "glance-direct,glance-direct", "glance-direct,,"}) {
    EXPECT_EQ(ParseImportMethods(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ImportJsonTest, InfoDocumentIsGlances) {
  EXPECT_EQ(json::parse(ImportInfoJson(kEnabled)), json::parse(R"({"import-methods": {
      "description": "Import methods available.", "type": "array",
      "value": ["glance-direct", "web-download"]}})"));
  EXPECT_EQ(json::parse(ImportInfoJson({})).at("import-methods").at("value"), json::array());
}

TEST(ImportJsonTest, GlanceDirect) {
  // tempest always sends all_stores; with one store it is ignored, and so are stores.
  auto r = ParseImportBody(
      R"({"method": {"name": "glance-direct"}, "all_stores": true, "stores": ["x"],
          "all_stores_must_succeed": true})",
      kEnabled);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->method, v1::IMPORT_METHOD_GLANCE_DIRECT);
  EXPECT_TRUE(r->uri.empty());
  EXPECT_EQ(json::parse(r->body).at("method").at("name"), "glance-direct");
}

TEST(ImportJsonTest, WebDownload) {
  auto r = ParseImportBody(
      R"({"method": {"name": "web-download", "uri": "https://mirror.example.org/d.qcow2"}})",
      kEnabled);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->method, v1::IMPORT_METHOD_WEB_DOWNLOAD);
  EXPECT_EQ(r->uri, "https://mirror.example.org/d.qcow2");
  // The worker's filter decides on hosts and ports: a loopback URL passes the syntax check.
  EXPECT_TRUE(
      ParseImportBody(
          R"({"method": {"name": "web-download", "uri": "HTTP://user@127.0.0.1:8080"}})", kEnabled)
          .ok());
}

TEST(ImportJsonTest, BadBodiesAre400InGlancesOrder) {
  struct Case {
    const char* body;
    const char* message;
  };
  for (Case c : {
           Case{"[1]", "Body must be a JSON object."},
           {"{", "Malformed JSON in request body."},
           {R"({"all_stores": 1})", "Import request requires a 'method' field."},
           {R"({"method": "glance-direct"})", "Import request 'method' must be an object."},
           {R"({"method": {}, "all_stores": 1})", "Import request requires a 'name' field."},
           {R"({"method": {"name": "copy-image"}})", "Unknown import method name 'copy-image'."},
           {R"({"method": {"name": 7}})", "Unknown import method name '7'."},
           {R"({"method": {"name": "glance-direct"}, "all_stores_must_succeed": "no",
                "all_stores": "no"})",
            "'all_stores_must_succeed' must be boolean value only"},
           {R"({"method": {"name": "glance-direct"}, "all_stores": "yes"})",
            "'all_stores' must be boolean value only"},
           {R"({"method": {"name": "glance-direct"}, "all_stores_must_succeed": false})",
            "all_stores_must_succeed can only be set with enabled_backends."},
           {R"({"method": {"name": "web-download"}})",
            "Import method web-download requires a 'uri' string."},
           {R"({"method": {"name": "web-download", "uri": 5}})",
            "Import method web-download requires a 'uri' string."},
           {R"({"method": {"name": "web-download", "uri": "file:///etc/passwd"}})",
            "URI for web-download does not pass filtering: file:///etc/passwd"},
       }) {
    auto r = ParseImportBody(c.body, kEnabled);
    ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(r.status().message(), c.message) << c.body;
  }
  for (const char* uri : {"", "http://", "http:///path", "https://:443/x", "ftp://h/x",
                          "http://h/a b", "//h/x", "http://h/\x01"}) {
    json::object body{{"method", json::object{{"name", "web-download"}, {"uri", uri}}}};
    EXPECT_EQ(ParseImportBody(json::serialize(body), kEnabled).status().code(),
              absl::StatusCode::kInvalidArgument)
        << uri;
  }
}

TEST(ImportJsonTest, OnlyEnabledMethods) {
  const std::vector<std::string> web_only = {"web-download"};
  EXPECT_EQ(ParseImportBody(R"({"method": {"name": "glance-direct"}})", web_only).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ImportJsonTest, TaskInputIsGlances) {
  auto request = ParseImportBody(
      R"({"method": {"name": "web-download", "uri": "https://example.com/a.img"}})", kEnabled);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(json::parse(ImportTaskInput("1d7b", *request)),
            json::parse(R"({"image_id": "1d7b", "backend": [null], "import_req":
                {"method": {"name": "web-download", "uri": "https://example.com/a.img"}}})"));
}

}  // namespace
}  // namespace gaze::gateway
