#include "api-gateway/task_json.h"

#include <boost/json.hpp>

#include "api-gateway/schemas.h"
#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

constexpr const char* kTaskId = "ee22890e-8948-4ea6-9668-831f973c84f5";
constexpr const char* kImageId = "a96be11e-8536-4910-92cb-de50aa19dfe6";

v1::Task ImportTask() {
  v1::Task t;
  t.set_id(kTaskId);
  t.set_type(v1::TASK_TYPE_IMPORT);
  t.set_status(v1::TASK_STATUS_PROCESSING);
  t.set_owner("64f0efc9955145aeb06f297a8a6fe402");
  t.set_image_id(kImageId);
  t.set_request_id("req-1");
  t.set_user_id("u1");
  t.set_input_json(R"({"image_id": "a96be11e-8536-4910-92cb-de50aa19dfe6",
                       "import_req": {"method": {"name": "glance-direct"}}, "backend": [null]})");
  t.mutable_created_at()->set_seconds(1608268838);  // 2020-12-18T05:20:38Z
  t.mutable_updated_at()->set_seconds(1608269139);  // 2020-12-18T05:25:39Z
  t.mutable_updated_at()->set_nanos(123456789);
  t.mutable_progress()->set_stage("storing");
  t.mutable_progress()->set_bytes_done(1048576);
  t.mutable_progress()->set_bytes_total(4194304);
  return t;
}

TEST(TaskJsonTest, FullTask) {
  EXPECT_EQ(json::parse(SerializeTask(ImportTask())), json::parse(R"({
      "id": "ee22890e-8948-4ea6-9668-831f973c84f5", "type": "api_image_import",
      "status": "processing", "owner": "64f0efc9955145aeb06f297a8a6fe402",
      "input": {"image_id": "a96be11e-8536-4910-92cb-de50aa19dfe6",
                "import_req": {"method": {"name": "glance-direct"}}, "backend": [null]},
      "result": null, "message": "",
      "created_at": "2020-12-18T05:20:38Z", "updated_at": "2020-12-18T05:25:39Z",
      "self": "/v2/tasks/ee22890e-8948-4ea6-9668-831f973c84f5", "schema": "/v2/schemas/task",
      "image_id": "a96be11e-8536-4910-92cb-de50aa19dfe6", "request_id": "req-1", "user_id": "u1",
      "progress": {"stage": "storing", "bytes_done": 1048576, "bytes_total": 4194304}})"));
}

TEST(TaskJsonTest, FinishedTaskWithoutProgressOrOptionalKeys) {
  v1::Task t = ImportTask();
  t.set_status(v1::TASK_STATUS_SUCCESS);
  t.clear_request_id();
  t.clear_user_id();
  t.clear_progress();
  t.set_result_json(R"({"image_id": "a96be11e-8536-4910-92cb-de50aa19dfe6"})");
  t.set_message("Copied 4 MiB");
  t.mutable_expires_at()->set_seconds(1608441939);  // 2020-12-20T05:25:39Z
  json::object o = json::parse(SerializeTask(t)).as_object();
  EXPECT_EQ(o.at("status"), "success");
  EXPECT_EQ(o.at("result"), json::parse(R"({"image_id": "a96be11e-8536-4910-92cb-de50aa19dfe6"})"));
  EXPECT_EQ(o.at("message"), "Copied 4 MiB");
  EXPECT_EQ(o.at("expires_at"), "2020-12-20T05:25:39Z");
  EXPECT_TRUE(o.at("progress").is_null());
  EXPECT_FALSE(o.contains("request_id"));
  EXPECT_FALSE(o.contains("user_id"));
}

TEST(TaskJsonTest, UnknownTotalIsNull) {
  v1::Task t = ImportTask();
  t.mutable_progress()->set_bytes_total(0);
  EXPECT_TRUE(json::parse(SerializeTask(t)).at("progress").at("bytes_total").is_null());
}

TEST(TaskJsonTest, OnlyImportTasksAreShown) {
  EXPECT_TRUE(IsApiTask(ImportTask()));
  v1::Task t = ImportTask();
  t.set_type(v1::TASK_TYPE_DELETE_DATA);
  EXPECT_FALSE(IsApiTask(t));
}

TEST(TaskJsonTest, ListHasStubsAndLinks) {
  v1::ListTasksResponse page;
  *page.add_tasks() = ImportTask();
  page.set_page_full(true);
  QueryParams query = {{"limit", "1"}, {"status", "processing"}, {"marker", "old"}};
  json::value doc = json::parse(SerializeTaskList(page, query));
  EXPECT_EQ(doc, json::parse(R"({"tasks": [{
      "id": "ee22890e-8948-4ea6-9668-831f973c84f5", "type": "api_image_import",
      "status": "processing", "owner": "64f0efc9955145aeb06f297a8a6fe402",
      "created_at": "2020-12-18T05:20:38Z", "updated_at": "2020-12-18T05:25:39Z",
      "self": "/v2/tasks/ee22890e-8948-4ea6-9668-831f973c84f5", "schema": "/v2/schemas/task",
      "progress": {"stage": "storing", "bytes_done": 1048576, "bytes_total": 4194304}}],
      "first": "/v2/tasks?limit=1&status=processing", "schema": "/v2/schemas/tasks",
      "next": "/v2/tasks?limit=1&status=processing&marker=ee22890e-8948-4ea6-9668-831f973c84f5"})"));
  page.set_page_full(false);
  EXPECT_FALSE(json::parse(SerializeTaskList(page, {})).as_object().contains("next"));
  EXPECT_EQ(json::parse(SerializeTaskList(v1::ListTasksResponse(), {})),
            json::parse(R"({"tasks": [], "first": "/v2/tasks", "schema": "/v2/schemas/tasks"})"));
}

TEST(TaskJsonTest, ImageTasksAreDatabaseRows) {
  google::protobuf::RepeatedPtrField<v1::Task> tasks;
  *tasks.Add() = ImportTask();
  tasks.Mutable(0)->clear_request_id();
  EXPECT_EQ(json::parse(SerializeImageTasks(tasks)), json::parse(R"({"tasks": [{
      "id": "ee22890e-8948-4ea6-9668-831f973c84f5", "type": "api_image_import",
      "status": "processing", "owner": "64f0efc9955145aeb06f297a8a6fe402",
      "image_id": "a96be11e-8536-4910-92cb-de50aa19dfe6", "request_id": null, "user_id": "u1",
      "input": {"image_id": "a96be11e-8536-4910-92cb-de50aa19dfe6",
                "import_req": {"method": {"name": "glance-direct"}}, "backend": [null]},
      "result": null, "message": "", "expires_at": null,
      "created_at": "2020-12-18T05:20:38.000000", "updated_at": "2020-12-18T05:25:39.123456",
      "deleted": false, "deleted_at": null,
      "progress": {"stage": "storing", "bytes_done": 1048576, "bytes_total": 4194304}}]})"));
}

TEST(TaskJsonTest, ListQuery) {
  auto q = ParseTaskListQuery({{"status", "success"},
                               {"limit", "5000"},
                               {"sort_dir", "asc"},
                               {"marker", kTaskId},
                               {"owner", "ignored"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(q->empty_page);
  EXPECT_EQ(q->request.status(), v1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(q->request.type(), v1::TASK_TYPE_IMPORT) << "internal tasks are never listed";
  EXPECT_EQ(q->request.limit(), 1000);
  EXPECT_TRUE(q->request.ascending());
  EXPECT_EQ(q->request.marker(), kTaskId);

  q = ParseTaskListQuery({});
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->request.ascending()) << "newest first by default";
  EXPECT_FALSE(q->request.has_status());
  EXPECT_EQ(q->request.limit(), 0) << "metadata-svc's default page size";

  // Glance's filter compares type with the legacy task type "import": its api_image_import
  // tasks never match, and Gaze has no legacy tasks.
  for (QueryParams empty : std::vector<QueryParams>{
           {{"type", "import"}}, {{"status", ""}}, {{"limit", "0"}}, {{"type", ""}}}) {
    q = ParseTaskListQuery(empty);
    ASSERT_TRUE(q.ok()) << empty[0].first;
    EXPECT_TRUE(q->empty_page) << empty[0].first << "=" << empty[0].second;
  }
  for (const char* key : {"created_at", "type"}) {
    EXPECT_TRUE(ParseTaskListQuery({{"sort_key", key}}).ok()) << key;
  }
  for (QueryParams bad : std::vector<QueryParams>{{{"status", "done"}},
                                                  {{"type", "api_image_import"}},
                                                  {{"sort_dir", "up"}},
                                                  {{"sort_key", "status"}},
                                                  {{"limit", "-1"}},
                                                  {{"limit", "x"}},
                                                  {{"marker", "not-a-uuid"}}}) {
    EXPECT_EQ(ParseTaskListQuery(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad[0].first << "=" << bad[0].second;
  }
}

TEST(TaskJsonTest, SchemasAreGlancesMinimalOnesWithProgress) {
  json::object task = json::parse(TaskSchemaJson()).as_object();
  EXPECT_EQ(task.at("name"), "task");
  EXPECT_EQ(task.size(), 2u) << "Glance serves the minimal schema: name and properties";
  const json::object& props = task.at("properties").as_object();
  for (const char* key :
       {"id", "type", "status", "input", "result", "owner", "message", "image_id", "request_id",
        "user_id", "expires_at", "created_at", "updated_at", "self", "schema", "progress"}) {
    EXPECT_TRUE(props.contains(key)) << key;
  }
  EXPECT_EQ(props.size(), 16u);
  EXPECT_EQ(props.at("type").at("enum"), json::parse(R"(["import", "api_image_import"])"));
  EXPECT_EQ(
      props.at("id").at("pattern"),
      "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$");

  json::object tasks = json::parse(TasksSchemaJson()).as_object();
  EXPECT_EQ(tasks.at("name"), "tasks");
  EXPECT_EQ(tasks.at("links"), json::parse(R"([{"rel": "describedby", "href": "{schema}"}])"));
  const json::object& items =
      tasks.at("properties").at("tasks").at("items").at("properties").as_object();
  for (const char* hidden : {"input", "result", "message"}) EXPECT_FALSE(items.contains(hidden));
  EXPECT_TRUE(items.contains("progress"));
  EXPECT_EQ(tasks.at("properties").at("schema"), json::parse(R"({"type": "string"})"));
}

}  // namespace
}  // namespace gaze::gateway
