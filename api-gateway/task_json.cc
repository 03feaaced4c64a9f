#include "api-gateway/task_json.h"

#include <boost/json.hpp>
#include <optional>

#include "absl/time/time.h"
#include "api-gateway/image_json.h"
#include "services/common/ids.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

json::string_view Js(std::string_view s) { return json::string_view(s.data(), s.size()); }

absl::Status Bad(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

constexpr std::pair<std::string_view, v1::TaskStatus> kStatuses[] = {
    {"pending", v1::TASK_STATUS_PENDING},
    {"processing", v1::TASK_STATUS_PROCESSING},
    {"success", v1::TASK_STATUS_SUCCESS},
    {"failure", v1::TASK_STATUS_FAILURE},
};

std::string_view StatusName(v1::TaskStatus status) {
  for (const auto& [name, s] : kStatuses) {
    if (s == status) return name;
  }
  return "pending";
}

// The views of a task: GET /v2/tasks/{id}, an item of GET /v2/tasks, an item of
// GET /v2/images/{id}/tasks.
enum class View { kFull, kStub, kOfImage };

// Glance stores a task's input and result as JSON objects; metadata-svc hands them over as
// text, "" for none.
json::value JsonObjectOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(Js(text), ec);
  return !ec && v.is_object() ? v : json::value(nullptr);
}

// GET /v2/images/{id}/tasks shows times as Glance's serializer renders datetimes:
// "2026-03-01T10:00:00.000000".
std::string FormatMicros(const google::protobuf::Timestamp& t) {
  absl::Time time = absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6S", time, absl::UTCTimeZone());
}

json::value ProgressJson(const v1::Task& task) {
  const v1::TaskProgress& p = task.progress();
  if (p.stage().empty()) return nullptr;
  return json::object{
      {"stage", Js(p.stage())},
      {"bytes_done", p.bytes_done()},
      {"bytes_total", p.bytes_total() > 0 ? json::value(p.bytes_total()) : json::value(nullptr)}};
}

json::object TaskToJson(const v1::Task& task, View view) {
  auto time = [view](const google::protobuf::Timestamp& t) -> json::value {
    return view == View::kOfImage ? json::value(Js(FormatMicros(t)))
                                  : json::value(Js(FormatTimestamp(t.seconds())));
  };
  json::object o;
  o["id"] = Js(task.id());
  o["type"] = "api_image_import";
  o["status"] = Js(StatusName(task.status()));
  o["owner"] = Js(task.owner());
  o["created_at"] = time(task.created_at());
  o["updated_at"] = time(task.updated_at());
  if (view != View::kStub) {
    o["input"] = JsonObjectOrNull(task.input_json());
    o["result"] = JsonObjectOrNull(task.result_json());
    o["message"] = Js(task.message());
  }
  if (view == View::kOfImage) {
    // Glance's database row, where an unset column is null.
    auto column = [](const std::string& s) {
      return s.empty() ? json::value() : json::value(Js(s));
    };
    o["image_id"] = column(task.image_id());
    o["request_id"] = column(task.request_id());
    o["user_id"] = column(task.user_id());
    o["expires_at"] = task.has_expires_at() ? time(task.expires_at()) : json::value();
    o["deleted"] = false;
    o["deleted_at"] = nullptr;
  } else {
    if (view == View::kFull) {
      for (auto [key, value] : {std::pair{"image_id", &task.image_id()},
                                {"request_id", &task.request_id()},
                                {"user_id", &task.user_id()}}) {
        if (!value->empty()) o[key] = Js(*value);
      }
    }
    if (task.has_expires_at()) o["expires_at"] = time(task.expires_at());
    o["self"] = Js("/v2/tasks/" + task.id());
    o["schema"] = "/v2/schemas/task";
  }
  o["progress"] = ProgressJson(task);
  return o;
}

}  // namespace

bool IsApiTask(const v1::Task& task) { return task.type() == v1::TASK_TYPE_IMPORT; }

std::string SerializeTask(const v1::Task& task) {
  return json::serialize(TaskToJson(task, View::kFull));
}

std::string SerializeTaskList(const v1::ListTasksResponse& page, const QueryParams& query) {
  json::array tasks;
  tasks.reserve(static_cast<size_t>(page.tasks_size()));
  for (const v1::Task& t : page.tasks()) tasks.emplace_back(TaskToJson(t, View::kStub));
  json::object doc{{"tasks", std::move(tasks)},
                   {"first", FirstLink("/v2/tasks", query)},
                   {"schema", "/v2/schemas/tasks"}};
  if (page.page_full() && page.tasks_size() > 0) {
    doc["next"] = NextLink("/v2/tasks", query, page.tasks(page.tasks_size() - 1).id());
  }
  return json::serialize(doc);
}

std::string SerializeImageTasks(const google::protobuf::RepeatedPtrField<v1::Task>& tasks) {
  json::array list;
  list.reserve(static_cast<size_t>(tasks.size()));
  for (const v1::Task& t : tasks) list.emplace_back(TaskToJson(t, View::kOfImage));
  return json::serialize(json::object{{"tasks", std::move(list)}});
}

absl::StatusOr<TaskListQuery> ParseTaskListQuery(const QueryParams& query) {
  TaskListQuery out;
  v1::ListTasksRequest& req = out.request;
  req.set_type(v1::TASK_TYPE_IMPORT);
  std::string_view sort_key = "created_at";
  std::string_view sort_dir = "desc";
  for (const auto& [key, value] : query) {
    if (key == "limit") {
      absl::StatusOr<int32_t> limit = ParseLimit(value);
      if (!limit.ok()) return limit.status();
      req.set_limit(*limit);
      out.empty_page = out.empty_page || *limit == 0;
    } else if (key == "marker") {
      if (!value.empty() && !IsUuid(value)) return Bad("Invalid marker format");
      req.set_marker(value);
    } else if (key == "sort_key") {
      sort_key = value;
    } else if (key == "sort_dir") {
      sort_dir = value;
    } else if (key == "status") {
      // Glance checks only non-empty values; an empty one filters on status "" and matches
      // nothing, as does type=import (see the header).
      std::optional<v1::TaskStatus> status;
      for (const auto& [name, s] : kStatuses) {
        if (name == value) status = s;
      }
      if (!value.empty() && !status) return Bad("Invalid status value: " + value);
      if (status) req.set_status(*status);
      out.empty_page = out.empty_page || !status;
    } else if (key == "type") {
      if (!value.empty() && value != "import") return Bad("Invalid type value: " + value);
      out.empty_page = true;
    }
  }
  if (sort_dir != "asc" && sort_dir != "desc") {
    return Bad("Invalid sort direction: " + std::string(sort_dir));
  }
  req.set_ascending(sort_dir == "asc");
  if (sort_key != "created_at" && sort_key != "type") {
    return Bad("Unsupported sort key: " + std::string(sort_key) +
               ". Gaze sorts tasks by created_at.");
  }
  return out;
}

}  // namespace gaze::gateway
