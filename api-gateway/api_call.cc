#include "api-gateway/api_call.h"

#include "api-gateway/errors.h"
#include "api-gateway/image_json.h"
#include "api-gateway/metadata_client.h"
#include "services/common/log.h"

namespace gaze::gateway {

metadata::v1::Caller ApiCall::Caller() const {
  metadata::v1::Caller caller;
  caller.set_project_id(identity.project_id);
  caller.set_user_id(identity.user_id);
  for (const std::string& role : identity.roles) caller.add_roles(role);
  caller.set_is_admin(identity.is_admin);
  return caller;
}

void LogRejected(const Request& request, const std::string& request_id, int status,
                 std::string_view reason) {
  log::Info("request rejected")
      .RequestId(request_id)
      .Field("status", status)
      .Field("method", request.method)
      .Field("path", request.path)
      .Field("reason", reason);
}

Response ApiCall::Error(int status, std::string_view explanation) const {
  LogRejected(request, request_id, status, explanation);
  return ErrorResponse(status, explanation, accept());
}

Response ApiCall::Error(const absl::Status& status) const {
  int http = HttpStatusFor(status.code());
  absl::string_view msg = status.message();
  if (http >= 500) {
    log::Error("request failed")
        .RequestId(request_id)
        .Field("status", http)
        .Field("method", request.method)
        .Field("path", request.path)
        .Field("error", std::string_view(msg.data(), msg.size()));
    return ErrorFromStatus(status, accept());
  }
  return Error(http, std::string_view(msg.data(), msg.size()));
}

std::optional<Response> ApiCall::Authorize(std::string_view rule,
                                           const metadata::v1::Image& image) const {
  auth::PolicyTarget target = ImageTarget(image, identity);
  if (Allowed(rule, target)) return std::nullopt;
  if (rule == "get_image" || !Allowed("get_image", target)) {
    return Error(404, "No image found with ID " + image.id());
  }
  return Authorize(rule, target);
}

std::optional<Response> ApiCall::Authorize(std::string_view rule,
                                           const auth::PolicyTarget& target) const {
  if (Allowed(rule, target)) return std::nullopt;
  return Error(403, "You are not authorized to complete " + std::string(rule) + " action.");
}

auth::PolicyTarget ImageTarget(const metadata::v1::Image& image, const auth::Identity& caller,
                               const std::set<std::string, std::less<>>* only) {
  namespace v1 = metadata::v1;
  auto wanted = [only](std::string_view key) { return only == nullptr || only->contains(key); };
  // Free-form properties, except those named like a base attribute: in Glance's ImageTarget
  // the attribute shadows the property even when it is unset, so a property can never
  // pose as the owner or the membership.
  auth::PolicyTarget t;
  for (const auto& [key, value] : image.properties()) {
    if (wanted(key)) t.emplace(key, value);
  }
  for (const char* base :
       {"id", "owner", "project_id", "member_id", "visibility", "status", "protected", "os_hidden",
        "min_ram", "min_disk", "name", "disk_format", "container_format", "size", "virtual_size",
        "checksum", "os_hash_algo", "os_hash_value"}) {
    t.erase(base);
  }
  auto set = [&](const char* key, std::string_view value) {
    if (wanted(key)) t.emplace(key, std::string(value));
  };
  auto python_bool = [](bool b) { return std::string_view(b ? "True" : "False"); };
  set("id", image.id());
  if (image.has_owner()) {
    set("owner", image.owner());
    set("project_id", image.owner());
  }
  set("visibility", VisibilityName(image.visibility()));
  set("status", StatusName(image.status()));
  set("protected", python_bool(image.protected_()));
  set("os_hidden", python_bool(image.os_hidden()));
  set("min_ram", std::to_string(image.min_ram()));
  set("min_disk", std::to_string(image.min_disk()));
  if (image.has_name()) set("name", image.name());
  if (image.has_disk_format()) set("disk_format", image.disk_format());
  if (image.has_container_format()) set("container_format", image.container_format());
  if (image.has_size()) set("size", std::to_string(image.size()));
  if (image.has_virtual_size()) set("virtual_size", std::to_string(image.virtual_size()));
  if (image.has_checksum()) set("checksum", image.checksum());
  if (image.has_os_hash_algo()) set("os_hash_algo", image.os_hash_algo());
  if (image.has_os_hash_value()) set("os_hash_value", image.os_hash_value());
  // metadata-svc shows a non-admin another project's shared image only when the caller's
  // project is a member of it, so that is exactly when the caller is the image's member.
  if (!caller.is_admin && image.visibility() == v1::VISIBILITY_SHARED && image.has_owner() &&
      image.owner() != caller.project_id) {
    set("member_id", caller.project_id);
  }
  return t;
}

Response MethodNotAllowed(const ApiCall& call, std::string allow, std::string_view explanation) {
  Response r = explanation.empty() ? call.Error(405, "The method " + call.request.method +
                                                         " is not allowed for this resource.")
                                   : call.Error(405, explanation);
  r.With("Allow", std::move(allow));
  return r;
}

Response NoContent() {
  Response r;
  r.status = 204;
  return r;
}

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.With("Content-Type", "application/json");
  return r;
}

boost::asio::awaitable<std::optional<metadata::v1::Image>> AuthorizedImage(MetadataClient& metadata,
                                                                           ApiCall& call,
                                                                           const std::string& id,
                                                                           std::string_view rule,
                                                                           Response* error) {
  metadata::v1::GetImageRequest get;
  *get.mutable_caller() = call.Caller();
  get.set_id(id);
  auto image = co_await metadata.GetImage(call.request_id, get);
  if (!image.ok()) {
    *error = call.Error(image.status());
    co_return std::nullopt;
  }
  if (std::optional<Response> denied = call.Authorize(rule, *image)) {
    *error = *std::move(denied);
    co_return std::nullopt;
  }
  co_return *std::move(image);
}

}  // namespace gaze::gateway
