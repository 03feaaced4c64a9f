#include "metadata-svc/task_list_query.h"

#include "gtest/gtest.h"

namespace gaze::metadata {
namespace {

v1::ListTasksRequest Request(const std::string& project = "p1", bool admin = false) {
  v1::ListTasksRequest r;
  r.mutable_caller()->set_project_id(project);
  r.mutable_caller()->set_is_admin(admin);
  return r;
}

TEST(BuildTaskListQueryTest, ProjectSeesItsOwnImportTasksNewestFirst) {
  auto q = BuildTaskListQuery(Request(), {25, 1000}, "t.id");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->sql,
            "SELECT t.id FROM tasks t WHERE t.type = $1::text AND (t.expires_at IS NULL OR "
            "t.expires_at > now()) AND (false OR (t.owner = $2::text AND t.type <> "
            "'delete_data')) ORDER BY t.created_at DESC, t.id DESC LIMIT $3::bigint");
  EXPECT_EQ(q->params, (std::vector<std::string>{"api_image_import", "p1", "25"}));
  EXPECT_EQ(q->limit, 25);
}

TEST(BuildTaskListQueryTest, AdminSeesEveryProjectAndFiltersEverything) {
  auto r = Request("adm", true);
  r.set_image_id("6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11");
  r.set_status(v1::TASK_STATUS_FAILURE);
  r.set_type(v1::TASK_TYPE_DELETE_DATA);
  r.set_marker("00000000-0000-0000-0000-000000000001");
  r.set_ascending(true);
  r.set_limit(5000);
  auto q = BuildTaskListQuery(r, {25, 1000}, "t.id");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->sql,
            "SELECT t.id FROM tasks t WHERE t.type = $1::text AND (t.expires_at IS NULL OR "
            "t.expires_at > now()) AND t.image_id = $2::uuid AND t.status = $3::text AND "
            "(t.created_at, t.id) > (SELECT mk.created_at, mk.id FROM tasks mk WHERE mk.id = "
            "$4::uuid) ORDER BY t.created_at ASC, t.id ASC LIMIT $5::bigint");
  EXPECT_EQ(q->params,
            (std::vector<std::string>{"delete_data", "6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11",
                                      "failure", "00000000-0000-0000-0000-000000000001", "1000"}));
  EXPECT_EQ(q->limit, 1000);
}

TEST(BuildTaskListQueryTest, DescendingMarkerComparesDownwards) {
  auto r = Request();
  r.set_marker("00000000-0000-0000-0000-000000000001");
  auto q = BuildTaskListQuery(r, {25, 1000}, "t.id");
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->sql.find("(t.created_at, t.id) < (SELECT"), std::string::npos) << q->sql;
}

TEST(BuildTaskListQueryTest, RejectsBadArguments) {
  auto r = Request();
  r.set_limit(-1);
  EXPECT_EQ(BuildTaskListQuery(r, {25, 1000}, "t.id").status().code(),
            absl::StatusCode::kInvalidArgument);
  r = Request();
  r.set_marker("nope");
  EXPECT_EQ(BuildTaskListQuery(r, {25, 1000}, "t.id").status().message(), "marker not found");
  r = Request();
  r.set_image_id("nope");
  EXPECT_EQ(BuildTaskListQuery(r, {25, 1000}, "t.id").status().code(),
            absl::StatusCode::kInvalidArgument);
  r = Request();
  r.set_type(v1::TASK_TYPE_UNSPECIFIED);
  EXPECT_EQ(BuildTaskListQuery(r, {25, 1000}, "t.id").status().code(),
            absl::StatusCode::kInvalidArgument);
  r = Request();
  r.set_status(static_cast<v1::TaskStatus>(42));
  EXPECT_EQ(BuildTaskListQuery(r, {25, 1000}, "t.id").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gaze::metadata
