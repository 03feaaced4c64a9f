#include "api-gateway/errors.h"

#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

TEST(ErrorsTest, NegotiationFollowsWebob) {
  EXPECT_EQ(NegotiateErrorFormat(std::nullopt), ErrorFormat::kPlain);
  EXPECT_EQ(NegotiateErrorFormat(""), ErrorFormat::kPlain);
  EXPECT_EQ(NegotiateErrorFormat("*/*"), ErrorFormat::kHtml);
  EXPECT_EQ(NegotiateErrorFormat("application/json"), ErrorFormat::kJson);
  EXPECT_EQ(NegotiateErrorFormat("text/html"), ErrorFormat::kHtml);
  EXPECT_EQ(NegotiateErrorFormat("application/json, */*;q=0.5"), ErrorFormat::kJson);
  EXPECT_EQ(NegotiateErrorFormat("text/html;q=0.2, application/json;q=0.9"), ErrorFormat::kJson);
  EXPECT_EQ(NegotiateErrorFormat("text/*"), ErrorFormat::kHtml);
  EXPECT_EQ(NegotiateErrorFormat("application/octet-stream"), ErrorFormat::kPlain);
  EXPECT_EQ(NegotiateErrorFormat("not a media type"), ErrorFormat::kHtml);  // invalid header
}

TEST(ErrorsTest, JsonBodyHasGlanceShape) {
  Response r = ErrorResponse(404, "No image found with ID x", "application/json");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            "{\"message\": \"No image found with ID x<br /><br />\\n\\n\\n\", \"code\": \"404 Not "
            "Found\", \"title\": \"Not Found\"}");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].value, "application/json");
}

TEST(ErrorsTest, HtmlBodyEscapesExplanation) {
  Response r = ErrorResponse(400, "bad <input>", "*/*");
  EXPECT_NE(r.body.find("<title>400 Bad Request</title>"), std::string::npos);
  EXPECT_NE(r.body.find("bad &lt;input&gt;<br /><br />"), std::string::npos);
  EXPECT_EQ(r.headers[0].value, "text/html; charset=UTF-8");
}

TEST(ErrorsTest, PlainBody) {
  Response r = ErrorResponse(409, "conflict", std::nullopt);
  EXPECT_EQ(r.body, "409 Conflict\n\nconflict\n\n\n\n");
}

TEST(ErrorsTest, StatusMappingTable) {
  struct Case {
    absl::StatusCode code;
    int http;
  };
  for (Case c : {Case{absl::StatusCode::kInvalidArgument, 400},
                 {absl::StatusCode::kUnauthenticated, 401},
                 {absl::StatusCode::kPermissionDenied, 403},
                 {absl::StatusCode::kNotFound, 404},
                 {absl::StatusCode::kAlreadyExists, 409},
                 {absl::StatusCode::kFailedPrecondition, 409},
                 {absl::StatusCode::kAborted, 409},
                 {absl::StatusCode::kResourceExhausted, 413},
                 {absl::StatusCode::kUnimplemented, 501},
                 {absl::StatusCode::kUnavailable, 503},
                 {absl::StatusCode::kInternal, 500},
                 {absl::StatusCode::kUnknown, 500}}) {
    EXPECT_EQ(HttpStatusFor(c.code), c.http) << absl::StatusCodeToString(c.code);
  }
}

TEST(ErrorsTest, InternalMessagesAreNotShown) {
  Response r = ErrorFromStatus(absl::InternalError("pq: secret dsn"), "application/json");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace gaze::gateway
