#include "api-gateway/routes.h"

#include <boost/json.hpp>

#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

Route Match(std::string_view method, std::string_view path) {
  std::vector<std::string> segments = PathSegments(path);
  return MatchRoute(method, segments);
}

TEST(RoutesTest, PathSegments) {
  EXPECT_EQ(PathSegments("/images/x/"), (std::vector<std::string>{"images", "x"}));
  EXPECT_EQ(PathSegments("/images"), (std::vector<std::string>{"images"}));
  EXPECT_EQ(PathSegments("/a//b"), (std::vector<std::string>{"a", "", "b"}));
}

TEST(RoutesTest, EveryOperation) {
  struct Case {
    const char* method;
    const char* path;
    Operation operation;
  };
  for (Case c : {
           Case{"GET", "/images", Operation::kListImages},
           {"POST", "/images/", Operation::kCreateImage},
           {"GET", "/images/i1", Operation::kShowImage},
           {"PATCH", "/images/i1", Operation::kUpdateImage},
           {"DELETE", "/images/i1", Operation::kDeleteImage},
           {"GET", "/images/i1/file", Operation::kDownloadData},
           {"PUT", "/images/i1/file", Operation::kUploadData},
           {"PUT", "/images/i1/tags/t1", Operation::kAddTag},
           {"DELETE", "/images/i1/tags/t1", Operation::kDeleteTag},
           {"POST", "/images/i1/actions/deactivate", Operation::kDeactivate},
           {"POST", "/images/i1/actions/reactivate", Operation::kReactivate},
           {"GET", "/images/i1/members", Operation::kListMembers},
           {"POST", "/images/i1/members", Operation::kAddMember},
           {"GET", "/images/i1/members/m1", Operation::kShowMember},
           {"PUT", "/images/i1/members/m1", Operation::kUpdateMember},
           {"DELETE", "/images/i1/members/m1", Operation::kDeleteMember},
           {"GET", "/info/usage", Operation::kUsage},
           {"PUT", "/images/i1/stage", Operation::kStageData},
           {"POST", "/images/i1/import", Operation::kImportImage},
           {"GET", "/images/i1/tasks", Operation::kListImageTasks},
           {"GET", "/info/import", Operation::kImportInfo},
           {"GET", "/tasks", Operation::kListTasks},
           {"POST", "/tasks", Operation::kCreateTask},
           {"GET", "/tasks/t1", Operation::kShowTask},
           {"DELETE", "/tasks/t1", Operation::kDeleteTask},
           {"GET", "/schemas/image", Operation::kImageSchema},
           {"GET", "/schemas/images", Operation::kImagesSchema},
           {"GET", "/schemas/member", Operation::kMemberSchema},
           {"GET", "/schemas/members", Operation::kMembersSchema},
           {"GET", "/schemas/task", Operation::kTaskSchema},
           {"GET", "/schemas/tasks", Operation::kTasksSchema},
       }) {
    Route r = Match(c.method, c.path);
    ASSERT_EQ(r.outcome, Route::Outcome::kMatched) << c.method << " " << c.path;
    EXPECT_EQ(r.operation, c.operation) << c.method << " " << c.path;
  }
  Route r = Match("PUT", "/images/i1/members/m1");
  EXPECT_EQ(r.image_id, "i1");
  EXPECT_EQ(r.member_id, "m1");
  r = Match("PUT", "/images/i1/tags/t 1");
  EXPECT_EQ(r.tag, "t 1");
  r = Match("GET", "/tasks/t1");
  EXPECT_EQ(r.task_id, "t1");
}

TEST(RoutesTest, WrongMethodIs405WithAllow) {
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  };
  for (Case c : {
           Case{"DELETE", "/images", "GET, POST"},
           {"POST", "/images/i1", "GET, PATCH, DELETE"},
           {"POST", "/images/i1/file", "GET, PUT"},
           {"GET", "/images/i1/tags/t1", "PUT, DELETE"},
           {"GET", "/images/i1/actions/deactivate", "POST"},
           {"PUT", "/images/i1/members", "GET, POST"},
           {"POST", "/images/i1/members/m1", "GET, PUT, DELETE"},
           {"POST", "/info/usage", "GET"},
           {"GET", "/images/i1/stage", "PUT"},
           {"GET", "/images/i1/import", "POST"},
           {"POST", "/images/i1/tasks", "GET"},
           {"PUT", "/info/import", "GET"},
           {"DELETE", "/tasks", "GET, POST"},
           {"PUT", "/tasks/t1", "GET, DELETE"},
           {"PUT", "/schemas/member", "GET"},
           {"POST", "/schemas/tasks", "GET"},
           {"HEAD", "/images", "GET, POST"},
       }) {
    Route r = Match(c.method, c.path);
    ASSERT_EQ(r.outcome, Route::Outcome::kMethodNotAllowed) << c.method << " " << c.path;
    EXPECT_EQ(r.allow, c.allow) << c.method << " " << c.path;
  }
}

TEST(RoutesTest, UnimplementedAndUnknown) {
  for (const char* path : {"/images/i1/locations", "/metadefs", "/metadefs/namespaces/n/objects",
                           "/schemas/metadefs/namespace"}) {
    Route r = Match("GET", path);
    EXPECT_EQ(r.outcome, Route::Outcome::kNotImplemented) << path;
    EXPECT_FALSE(r.feature.empty()) << path;
  }
  for (const char* path : {"/", "/image", "/info/stores", "/cache", "/images/i1/actions/explode",
                           "/images/i1/members/m1/x", "/images/i1/file/x", "/schemas",
                           "/info/usage/x", "/stores/s/i", "/tasks/t1/x", "/images/i1/stage/x"}) {
    EXPECT_EQ(Match("GET", path).outcome, Route::Outcome::kNotFound) << path;
  }
}

TEST(RoutesTest, AdvertisedVersions) {
  // Up to 2.16: 2.17 added the location API (POST and GET /v2/images/{id}/locations), which
  // Gaze does not serve. The metadefs catalog (2.2, answered 501) does not hold 2.2 back.
  EXPECT_TRUE(IsApiVersion("v2"));
  for (int minor = 0; minor <= 16; ++minor) {
    EXPECT_TRUE(IsApiVersion("v2." + std::to_string(minor))) << minor;
  }
  for (const char* other : {"v2.17", "v2.18", "v2.02", "v1", "v1.1", "v3", "", "images", "V2"}) {
    EXPECT_FALSE(IsApiVersion(other)) << other;
  }
  json::array versions =
      json::parse(VersionsJson("http://gaze.example:9292")).at("versions").as_array();
  ASSERT_EQ(versions.size(), 17u);
  EXPECT_EQ(versions.front(), json::parse(R"({"id": "v2.16", "status": "CURRENT",
      "links": [{"rel": "self", "href": "http://gaze.example:9292/v2/"}]})"));
  EXPECT_EQ(versions.back(), json::parse(R"({"id": "v2.0", "status": "SUPPORTED",
      "links": [{"rel": "self", "href": "http://gaze.example:9292/v2/"}]})"));
  EXPECT_EQ(versions[1].at("id"), "v2.15");
  EXPECT_EQ(versions[1].at("status"), "SUPPORTED");
}

}  // namespace
}  // namespace gaze::gateway
