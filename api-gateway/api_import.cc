// GlanceApi's interoperable import and tasks routes (contract §6, §7): POST /import,
// GET /v2/images/{id}/tasks and /v2/tasks. PUT /stage is image data (image_data.h).
#include <algorithm>
#include <initializer_list>

#include "api-gateway/api.h"
#include "api-gateway/api_call.h"
#include "api-gateway/import_json.h"
#include "api-gateway/list_query.h"
#include "api-gateway/metadata_client.h"
#include "api-gateway/task_json.h"
#include "services/auth/policy.h"
#include "services/common/log.h"

namespace gaze::gateway {
namespace {

namespace asio = boost::asio;

// The first of `rules` that denies the caller, in order. Tasks are no policy target of their
// own in Glance: its task rules are checked against an empty one.
std::optional<Response> AuthorizeAll(const ApiCall& call,
                                     std::initializer_list<std::string_view> rules) {
  const auth::PolicyTarget none;
  for (std::string_view rule : rules) {
    if (auto denied = call.Authorize(rule, none)) return denied;
  }
  return std::nullopt;
}

}  // namespace

bool GlanceApi::ImportMethodEnabled(std::string_view method) const {
  return std::find(options_.import_methods.begin(), options_.import_methods.end(), method) !=
         options_.import_methods.end();
}

asio::awaitable<Response> GlanceApi::ImportImage(ApiCall& call, const std::string& id) {
  Response error;
  auto body = co_await ReadJsonBody(call, &error);
  if (!body) co_return error;
  auto request = ParseImportBody(*body, options_.import_methods);
  if (!request.ok()) co_return call.Error(request.status());
  // Importing data into an image is the owner's (Glance's modify_image). copy-image, which
  // Glance checks against copy_image instead, is never enabled: Gaze has one store.
  auto image = co_await AuthorizedImage(metadata_, call, id, "modify_image", &error);
  if (!image) co_return error;
  v1::StartImportRequest start;
  *start.mutable_caller() = call.Caller();
  start.set_id(id);
  start.set_method(request->method);
  start.set_uri(request->uri);
  start.set_request_json(ImportTaskInput(id, *request));
  // The status and format checks, the import lock and the task are one transaction in
  // metadata-svc: a wrong status or a live lock is FAILED_PRECONDITION, Glance's 409.
  auto started = co_await metadata_.StartImport(call.request_id, start);
  if (!started.ok()) co_return call.Error(started.status());
  log::Info("import started")
      .RequestId(call.request_id)
      .Field("image_id", id)
      .Field("task_id", started->task_id())
      .Field("method", v1::ImportMethod_Name(request->method));
  Response accepted;
  accepted.status = 202;
  co_return accepted;
}

asio::awaitable<Response> GlanceApi::ListImageTasks(ApiCall& call, const std::string& id) {
  // Glance answers 404 for an image the caller may not see or get (get_image), never 403.
  Response error;
  auto image = co_await AuthorizedImage(metadata_, call, id, "get_image", &error);
  if (!image) co_return error;
  v1::ListTasksRequest req;
  *req.mutable_caller() = call.Caller();
  req.set_image_id(id);
  req.set_type(v1::TASK_TYPE_IMPORT);
  req.set_limit(kMaxPageSize);
  // Glance lists an image's tasks unpaginated, in the order they were created.
  req.set_ascending(true);
  v1::ListTasksResponse all;
  for (;;) {
    auto page = co_await metadata_.ListTasks(call.request_id, req);
    if (!page.ok()) co_return call.Error(page.status());
    if (page->tasks().empty()) break;
    req.set_marker(page->tasks(page->tasks_size() - 1).id());
    for (v1::Task& task : *page->mutable_tasks()) *all.add_tasks() = std::move(task);
    if (!page->page_full()) break;
  }
  co_return JsonResponse(200, SerializeImageTasks(all.tasks()));
}

asio::awaitable<Response> GlanceApi::ListTasks(ApiCall& call) {
  if (auto denied = AuthorizeAll(call, {"tasks_api_access", "get_tasks"})) {
    co_return *std::move(denied);
  }
  auto query = ParseTaskListQuery(call.request.query);
  if (!query.ok()) co_return call.Error(query.status());
  v1::ListTasksResponse page;
  if (!query->empty_page) {
    *query->request.mutable_caller() = call.Caller();
    auto listed = co_await metadata_.ListTasks(call.request_id, query->request);
    if (!listed.ok()) co_return call.Error(listed.status());
    page = *std::move(listed);
  }
  co_return JsonResponse(200, SerializeTaskList(page, call.request.query));
}

asio::awaitable<Response> GlanceApi::ShowTask(ApiCall& call, const std::string& task_id) {
  if (auto denied = AuthorizeAll(call, {"tasks_api_access", "get_task"})) {
    co_return *std::move(denied);
  }
  v1::GetTaskRequest get;
  *get.mutable_caller() = call.Caller();
  get.set_id(task_id);
  auto task = co_await metadata_.GetTask(call.request_id, get);
  if (!task.ok()) co_return call.Error(task.status());
  if (!IsApiTask(*task)) {
    co_return call.Error(404, "Task with the given id " + task_id + " was not found");
  }
  co_return JsonResponse(200, SerializeTask(*task));
}

Response GlanceApi::CreateTask(const ApiCall& call) const {
  if (auto denied = AuthorizeAll(call, {"tasks_api_access"})) return *std::move(denied);
  return call.Error(501,
                    "Creating tasks (Glance's legacy task-based import) is not offered by Gaze: "
                    "import with POST /v2/images/{image_id}/import.");
}

Response GlanceApi::DeleteTask(const ApiCall& call) const {
  if (auto denied = AuthorizeAll(call, {"tasks_api_access"})) return *std::move(denied);
  return MethodNotAllowed(call, "GET",
                          "This operation is currently not permitted on Glance Tasks. They are "
                          "auto deleted after reaching the time based on their expires_at "
                          "property.");
}

}  // namespace gaze::gateway
