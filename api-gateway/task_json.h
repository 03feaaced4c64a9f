// Tasks as Glance's API shows them (contract §6.3, §7): a task, the task list and its query, and
// the tasks of one image.
//
// Only import tasks are Glance tasks: Gaze's other tasks (removing the bytes of deleted images)
// are internal and never shown. An import task is Glance's type "api_image_import".
//
// Gaze adds one key Glance does not have, "progress": null until the task worker reports, then
// {"stage": "fetching", "bytes_done": 1048576, "bytes_total": 4194304} ("bytes_total" null
// when the size is unknown). Clients ignore keys they do not know, and the task schemas declare
// it, so glanceclient's schema-validated models accept it.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>

#include <string>

#include "absl/status/statusor.h"
#include "api-gateway/list_query.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::gateway {

namespace v1 = ::gaze::metadata::v1;

// Whether the API shows `task` (an import task).
bool IsApiTask(const v1::Task& task);

// GET /v2/tasks/{id}: id, type, status, owner, input, result, message, created_at, updated_at,
// self, schema, progress, and image_id, request_id, user_id, expires_at when set.
std::string SerializeTask(const v1::Task& task);

// GET /v2/tasks: {"tasks": [...], "first", "schema": "/v2/schemas/tasks", "next" when the page
// is full}, the tasks without input, result and message (Glance's stubs).
std::string SerializeTaskList(const v1::ListTasksResponse& page, const QueryParams& query);

// GET /v2/images/{id}/tasks: {"tasks": [...]} with Glance's database columns as keys (id, type,
// status, owner, image_id, request_id, user_id, input, result, message, expires_at, created_at,
// updated_at, deleted, deleted_at) and progress; times with microseconds and without "Z".
std::string SerializeImageTasks(const google::protobuf::RepeatedPtrField<v1::Task>& tasks);

struct TaskListQuery {
  v1::ListTasksRequest request;  // the caller fills in request.caller
  // Known without asking metadata-svc to be empty: limit=0, or a filter nothing matches.
  bool empty_page = false;
};

// GET /v2/tasks parameters, checked as Glance does: status one of pending, processing, success,
// failure; type only "import" — Glance's legacy task type, which its filter compares with, so
// api_image_import tasks never match and the page is empty; sort_dir asc or desc; limit a
// non-negative integer; marker UUID-shaped. Other parameters are ignored. Tasks sort by
// created_at (sort_key=type gives the same order: every task shown has the same type); other
// sort keys are refused. INVALID_ARGUMENT (400) for bad values.
absl::StatusOr<TaskListQuery> ParseTaskListQuery(const QueryParams& query);

}  // namespace gaze::gateway
