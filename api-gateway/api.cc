#include "api-gateway/api.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/str_join.h"
#include "api-gateway/api_call.h"
#include "api-gateway/errors.h"
#include "api-gateway/image_data.h"
#include "api-gateway/image_json.h"
#include "api-gateway/image_patch.h"
#include "api-gateway/import_json.h"
#include "api-gateway/list_query.h"
#include "api-gateway/member_json.h"
#include "api-gateway/metadata_client.h"
#include "api-gateway/routes.h"
#include "api-gateway/schemas.h"
#include "services/auth/authenticator.h"
#include "services/auth/policy.h"
#include "services/common/log.h"

namespace gaze::gateway {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

Response PlainResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.With("Content-Type", "text/plain; charset=UTF-8");
  return r;
}

// A members RPC request on behalf of the caller, for `image_id` (and `member_id`).
template <typename MembersRequest>
MembersRequest MemberRequest(const ApiCall& call, const std::string& image_id,
                             const std::string& member_id = "") {
  MembersRequest req;
  *req.mutable_caller() = call.Caller();
  req.set_image_id(image_id);
  if constexpr (requires { req.set_member_id(member_id); }) req.set_member_id(member_id);
  return req;
}

void LogMemberChange(std::string_view what, const ApiCall& call, const std::string& image_id,
                     const std::string& member_id) {
  log::Info(what)
      .RequestId(call.request_id)
      .Field("image_id", image_id)
      .Field("member_id", member_id);
}

// Making an image public or community takes a policy of its own besides the action's.
std::optional<Response> AuthorizeVisibility(const ApiCall& call, v1::Visibility visibility,
                                            const auth::PolicyTarget& target) {
  if (visibility == v1::VISIBILITY_PUBLIC) return call.Authorize("publicize_image", target);
  if (visibility == v1::VISIBILITY_COMMUNITY) return call.Authorize("communitize_image", target);
  return std::nullopt;
}

}  // namespace

GlanceApi::GlanceApi(ApiOptions options, MetadataClient& metadata, ImageData& data,
                     auth::Authenticator& authenticator, const auth::Policy& policy)
    : options_(std::move(options)),
      metadata_(metadata),
      data_(data),
      authenticator_(authenticator),
      policy_(policy) {}

GlanceApi::~GlanceApi() = default;

Response GlanceApi::Versions(const Request& request, int status) const {
  return JsonResponse(status, VersionsJson(options_.public_url.For(request)));
}

Response GlanceApi::Unauthorized(const Request& request, const std::string& request_id,
                                 std::string_view reason) const {
  LogRejected(request, request_id, 401, reason);
  Response r = ErrorResponse(401, "The request you have made requires authentication.",
                             request.FindHeader("Accept"));
  r.With("WWW-Authenticate", "Keystone uri=\"" + options_.www_authenticate_uri + "\"");
  return r;
}

Response GlanceApi::AuthUnavailable(const Request& request, const std::string& request_id,
                                    std::string_view reason) const {
  log::Error("cannot authenticate")
      .RequestId(request_id)
      .Field("method", request.method)
      .Field("path", request.path)
      .Field("reason", reason);
  return ErrorResponse(503, "The authentication service is unavailable.",
                       request.FindHeader("Accept"));
}

asio::awaitable<Response> GlanceApi::Handle(const Request& request, RequestBody& body,
                                            const std::string& request_id) {
  static constexpr std::string_view kKnownMethods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                                       "PATCH", "DELETE", "OPTIONS"};
  bool known = false;
  for (std::string_view m : kKnownMethods) known = known || m == request.method;
  if (!known) {
    co_return ErrorResponse(501, "The server does not support the method " + request.method + ".",
                            request.FindHeader("Accept"));
  }
  const std::string& path = request.path;
  if (path == "/healthz") co_return PlainResponse(200, "OK\n");
  if (path == "/readyz") {
    bool ready = !draining_.load() && co_await metadata_.Healthy();
    co_return ready ? PlainResponse(200, "OK\n") : PlainResponse(503, "not ready\n");
  }
  if (path == "/versions") co_return Versions(request, 200);
  std::vector<std::string> segments = PathSegments(path);
  if (!segments.empty() && IsApiVersion(segments.front())) {
    co_return co_await HandleV2(request, body, request_id, path);
  }
  // Version negotiation: anything that is not an API version gets the version document.
  co_return Versions(request, 300);
}

asio::awaitable<Response> GlanceApi::HandleV2(const Request& request, RequestBody& body,
                                              const std::string& request_id,
                                              std::string_view path) {
  // Two tokens in one request would let a proxy that reads the last one and Gaze, which
  // reads the first, see different callers.
  auto count = [&request](std::string_view name) {
    int n = 0;
    for (const Header& h : request.headers) n += EqualsIgnoreCase(h.name, name) ? 1 : 0;
    return n;
  };
  if (count("X-Auth-Token") > 1 || count("X-Service-Token") > 1) {
    LogRejected(request, request_id, 400, "repeated token header");
    co_return ErrorResponse(400, "X-Auth-Token and X-Service-Token may each be sent once.",
                            request.FindHeader("Accept"));
  }
  std::optional<std::string_view> token = request.FindHeader("X-Auth-Token");
  std::optional<std::string_view> service_header = request.FindHeader("X-Service-Token");
  if (!token) token = request.FindHeader("X-Storage-Token");
  if (!token || token->empty()) co_return Unauthorized(request, request_id, "no token");
  std::string_view service_token = service_header.value_or("");
  auth::AuthResult auth = co_await authenticator_.Authenticate(*token, service_token, request_id);
  switch (auth.outcome) {
    case auth::AuthResult::Outcome::kAuthenticated:
      break;
    case auth::AuthResult::Outcome::kRejected:
      co_return Unauthorized(request, request_id, auth.reason);
    case auth::AuthResult::Outcome::kUnavailable:
      co_return AuthUnavailable(request, request_id, auth.reason);
  }
  // Glance only serves project-scoped callers (scope enforcement): a system- or domain-scoped
  // token has no project, and all such callers would otherwise share the empty project.
  if (auth.identity.project_id.empty()) {
    LogRejected(request, request_id, 403, "token is not project-scoped");
    co_return ErrorResponse(403, "Only project-scoped tokens are accepted.",
                            request.FindHeader("Accept"));
  }
  auth.identity.is_admin = policy_.IsAdmin(auth.identity);

  ApiCall call{request, body, request_id, std::move(auth.identity), policy_};
  std::vector<std::string> segments = PathSegments(path);
  segments.erase(segments.begin());  // the version
  Route route = MatchRoute(request.method, segments);
  switch (route.outcome) {
    case Route::Outcome::kMatched:
      break;
    case Route::Outcome::kMethodNotAllowed:
      co_return MethodNotAllowed(call, std::move(route.allow));
    case Route::Outcome::kNotImplemented:
      co_return call.Error(501, std::string(route.feature) + " is not implemented by Gaze yet.");
    case Route::Outcome::kNotFound:
      co_return call.Error(404, "The resource could not be found.");
  }
  const std::string& id = route.image_id;
  switch (route.operation) {
    case Operation::kListImages:
      co_return co_await ListImages(call);
    case Operation::kCreateImage:
      co_return co_await CreateImage(call);
    case Operation::kShowImage:
      co_return co_await ShowImage(call, id);
    case Operation::kUpdateImage:
      co_return co_await PatchImage(call, id);
    case Operation::kDeleteImage:
      co_return co_await DeleteImage(call, id);
    case Operation::kDownloadData:
      co_return co_await data_.Download(call, id);
    case Operation::kUploadData:
      co_return co_await data_.Upload(call, id);
    case Operation::kAddTag:
      co_return co_await SetTag(call, id, route.tag, true);
    case Operation::kDeleteTag:
      co_return co_await SetTag(call, id, route.tag, false);
    case Operation::kDeactivate:
      co_return co_await ChangeStatus(call, id, true);
    case Operation::kReactivate:
      co_return co_await ChangeStatus(call, id, false);
    case Operation::kListMembers:
      co_return co_await ListMembers(call, id);
    case Operation::kAddMember:
      co_return co_await AddMember(call, id);
    case Operation::kShowMember:
      co_return co_await ShowMember(call, id, route.member_id);
    case Operation::kUpdateMember:
      co_return co_await UpdateMember(call, id, route.member_id);
    case Operation::kDeleteMember:
      co_return co_await DeleteMember(call, id, route.member_id);
    case Operation::kUsage:
      co_return co_await Usage(call);
    case Operation::kStageData:
      // Glance's own answer when glance-direct is off: the resource does not exist.
      if (!ImportMethodEnabled("glance-direct")) {
        co_return call.Error(404, "'glance-direct' method is not available at this site.");
      }
      co_return co_await data_.Stage(call, id);
    case Operation::kImportImage:
      co_return co_await ImportImage(call, id);
    case Operation::kImportInfo:
      co_return JsonResponse(200, ImportInfoJson(options_.import_methods));
    case Operation::kListImageTasks:
      co_return co_await ListImageTasks(call, id);
    case Operation::kListTasks:
      co_return co_await ListTasks(call);
    case Operation::kCreateTask:
      co_return CreateTask(call);
    case Operation::kShowTask:
      co_return co_await ShowTask(call, route.task_id);
    case Operation::kDeleteTask:
      co_return DeleteTask(call);
    case Operation::kImageSchema:
      co_return JsonResponse(200, ImageSchemaJson());
    case Operation::kImagesSchema:
      co_return JsonResponse(200, ImagesSchemaJson());
    case Operation::kMemberSchema:
      co_return JsonResponse(200, MemberSchemaJson());
    case Operation::kMembersSchema:
      co_return JsonResponse(200, MembersSchemaJson());
    case Operation::kTaskSchema:
      co_return JsonResponse(200, TaskSchemaJson());
    case Operation::kTasksSchema:
      co_return JsonResponse(200, TasksSchemaJson());
  }
  co_return call.Error(404, "The resource could not be found.");
}

asio::awaitable<Response> GlanceApi::SetTag(ApiCall& call, const std::string& id,
                                            const std::string& tag, bool present) {
  if (tag.size() > 255) co_return call.Error(400, "Tag is too long: at most 255 characters.");
  for (int attempt = 1;; ++attempt) {
    Response error;
    auto current = co_await AuthorizedImage(metadata_, call, id, "modify_image", &error);
    if (!current) co_return error;
    auto tags = current->tags();
    auto it = std::find(tags.begin(), tags.end(), tag);
    bool has = it != tags.end();
    if (!present && !has) co_return call.Error(404, "Tag " + tag + " not found.");
    v1::UpdateImageRequest update;
    *update.mutable_caller() = call.Caller();
    update.set_id(id);
    update.set_expected_version(current->version());
    update.mutable_update_mask()->add_paths("tags");
    *update.mutable_image()->mutable_tags() = tags;
    if (present && !has) update.mutable_image()->add_tags(tag);
    if (!present) {
      auto* out = update.mutable_image()->mutable_tags();
      out->erase(out->begin() + (it - tags.begin()));
    }
    // Adding a present tag changes nothing but must still be allowed only to those who may
    // modify the image, so the update is sent regardless.
    auto updated = co_await metadata_.UpdateImage(call.request_id, update);
    if (updated.ok()) co_return NoContent();
    if (updated.status().code() != absl::StatusCode::kAborted ||
        attempt >= options_.patch_attempts) {
      co_return call.Error(updated.status());
    }
  }
}

asio::awaitable<std::optional<std::string>> GlanceApi::ReadJsonBody(ApiCall& call,
                                                                    Response* error) {
  if (!call.body.present()) {
    *error = call.Error(400, "Body expected in request.");
    co_return std::nullopt;
  }
  auto body = co_await call.body.ReadAll(options_.max_json_body);
  if (!body.ok()) {
    *error = body.status().code() == absl::StatusCode::kResourceExhausted
                 ? call.Error(413, "Request body is larger than " +
                                       std::to_string(options_.max_json_body) + " bytes.")
                 : call.Error(400, "Could not read the request body.");
    co_return std::nullopt;
  }
  co_return *std::move(body);
}

asio::awaitable<Response> GlanceApi::CreateImage(ApiCall& call) {
  Response error;
  auto body = co_await ReadJsonBody(call, &error);
  if (!body) co_return error;
  auto image = ParseCreateBody(*body, call.identity);
  if (!image.ok()) co_return call.Error(image.status());
  const auth::PolicyTarget target = ImageTarget(*image, call.identity);
  if (auto denied = call.Authorize("add_image", target)) co_return *std::move(denied);
  if (auto denied = AuthorizeVisibility(call, image->visibility(), target)) {
    co_return *std::move(denied);
  }
  v1::CreateImageRequest req;
  *req.mutable_caller() = call.Caller();
  *req.mutable_image() = *std::move(image);
  auto created = co_await metadata_.CreateImage(call.request_id, req);
  if (!created.ok()) co_return call.Error(created.status());
  log::Info("image created").RequestId(call.request_id).Field("image_id", created->id());
  Response r = JsonResponse(201, SerializeImage(*created));
  r.With("Location", options_.public_url.For(call.request) + "/v2/images/" + created->id());
  // openstacksdk reads it to choose glance-direct. Glance leaves it out when it would be empty.
  if (!options_.import_methods.empty()) {
    r.With("OpenStack-image-import-methods", absl::StrJoin(options_.import_methods, ","));
  }
  co_return r;
}

asio::awaitable<Response> GlanceApi::ListImages(ApiCall& call) {
  const auth::PolicyTarget own_project = {{"project_id", call.identity.project_id}};
  if (auto denied = call.Authorize("get_images", own_project)) co_return *std::move(denied);
  auto query = ParseListQuery(call.request.query);
  if (!query.ok()) co_return call.Error(query.status());
  ImageListWriter body;
  std::string last_id;
  bool page_full = false;
  if (!query->empty_page) {
    *query->request.mutable_caller() = call.Caller();
    auto page = co_await metadata_.ListImages(call.request_id, query->request);
    if (!page.ok()) co_return call.Error(page.status());
    body.Reserve(static_cast<size_t>(page->images_size()));
    // Like Glance, each image must also pass get_image. The rule reads a few attributes
    // (owner, visibility, membership) that most images of a page share, so it is decided
    // once per combination of them. Whether there is a next page depends on the page before
    // that filter, its marker on the images shown.
    const auto& attributes = call.policy.TargetAttributes("get_image");
    std::map<auth::PolicyTarget, bool> decided;
    for (const v1::Image& image : page->images()) {
      auto [verdict, fresh] =
          decided.try_emplace(ImageTarget(image, call.identity, &attributes), false);
      if (fresh) verdict->second = call.Allowed("get_image", verdict->first);
      if (!verdict->second) continue;
      body.Add(image);
      last_id = image.id();
    }
    page_full = page->page_full() && !body.empty();
  }
  std::optional<std::string> next;
  if (page_full) next = NextLink("/v2/images", call.request.query, last_id);
  co_return JsonResponse(200,
                         std::move(body).Finish(FirstLink("/v2/images", call.request.query), next));
}

asio::awaitable<Response> GlanceApi::ShowImage(ApiCall& call, const std::string& id) {
  Response error;
  auto image = co_await AuthorizedImage(metadata_, call, id, "get_image", &error);
  if (!image) co_return error;
  co_return JsonResponse(200, SerializeImage(*image));
}

asio::awaitable<Response> GlanceApi::PatchImage(ApiCall& call, const std::string& id) {
  std::optional<PatchDialect> dialect;
  if (auto ct = call.request.FindHeader("Content-Type")) dialect = PatchDialectFor(*ct);
  if (!dialect) {
    Response r = call.Error(415, "Unsupported Content-Type");
    r.With("Accept-Patch", std::string(kAcceptPatch));
    co_return r;
  }
  Response error;
  auto body = co_await ReadJsonBody(call, &error);
  if (!body) co_return error;
  // Optimistic concurrency: the patch is computed against one version of the image and only
  // applied if that version is still current; otherwise it is recomputed on a fresh read.
  for (int attempt = 1;; ++attempt) {
    auto current = co_await AuthorizedImage(metadata_, call, id, "modify_image", &error);
    if (!current) co_return error;
    auto planned = PlanPatch(*dialect, *body, *current, call.identity);
    if (!planned.ok()) co_return call.Error(planned.status());
    if (!planned->has_value()) co_return JsonResponse(200, SerializeImage(*current));
    v1::UpdateImageRequest* update = &**planned;
    const auto& paths = update->update_mask().paths();
    if (std::find(paths.begin(), paths.end(), "visibility") != paths.end()) {
      if (auto denied = AuthorizeVisibility(call, update->image().visibility(),
                                            ImageTarget(*current, call.identity))) {
        co_return *std::move(denied);
      }
    }
    *update->mutable_caller() = call.Caller();
    auto updated = co_await metadata_.UpdateImage(call.request_id, *update);
    if (updated.ok()) {
      log::Info("image updated").RequestId(call.request_id).Field("image_id", id);
      co_return JsonResponse(200, SerializeImage(*updated));
    }
    if (updated.status().code() != absl::StatusCode::kAborted ||
        attempt >= options_.patch_attempts) {
      co_return call.Error(updated.status());
    }
  }
}

asio::awaitable<Response> GlanceApi::DeleteImage(ApiCall& call, const std::string& id) {
  Response error;
  auto image = co_await AuthorizedImage(metadata_, call, id, "delete_image", &error);
  if (!image) co_return error;
  v1::DeleteImageRequest req;
  *req.mutable_caller() = call.Caller();
  req.set_id(id);
  auto deleted = co_await metadata_.DeleteImage(call.request_id, req);
  if (!deleted.ok()) co_return call.Error(deleted.status());
  log::Info("image deleted")
      .RequestId(call.request_id)
      .Field("image_id", id)
      .Field("task_id", deleted->task_id());
  co_return NoContent();
}

asio::awaitable<Response> GlanceApi::ChangeStatus(ApiCall& call, const std::string& id,
                                                  bool deactivate) {
  if (call.body.present()) co_return call.Error(400, "This request does not take a body.");
  Response error;
  auto image = co_await AuthorizedImage(metadata_, call, id,
                                        deactivate ? "deactivate" : "reactivate", &error);
  if (!image) co_return error;
  v1::ChangeImageStatusRequest req;
  *req.mutable_caller() = call.Caller();
  req.set_id(id);
  req.set_action(deactivate ? v1::STATUS_ACTION_DEACTIVATE : v1::STATUS_ACTION_REACTIVATE);
  auto changed = co_await metadata_.ChangeImageStatus(call.request_id, req);
  if (!changed.ok()) co_return call.Error(changed.status());
  log::Info(deactivate ? "image deactivated" : "image reactivated")
      .RequestId(call.request_id)
      .Field("image_id", id);
  co_return NoContent();
}

asio::awaitable<Response> GlanceApi::AddMember(ApiCall& call, const std::string& id) {
  Response error;
  auto body = co_await ReadJsonBody(call, &error);
  if (!body) co_return error;
  auto member = ParseAddMemberBody(*body);
  if (!member.ok()) co_return call.Error(member.status());
  auto image = co_await AuthorizedImage(metadata_, call, id, "add_member", &error);
  if (!image) co_return error;
  auto req = MemberRequest<v1::AddMemberRequest>(call, id, *member);
  auto added = co_await metadata_.AddMember(call.request_id, req);
  if (!added.ok()) co_return call.Error(added.status());
  LogMemberChange("member added", call, id, *member);
  co_return JsonResponse(200, SerializeMember(*added));
}

asio::awaitable<Response> GlanceApi::ListMembers(ApiCall& call, const std::string& id) {
  Response error;
  auto image = co_await AuthorizedImage(metadata_, call, id, "get_members", &error);
  if (!image) co_return error;
  auto req = MemberRequest<v1::ListMembersRequest>(call, id);
  auto members = co_await metadata_.ListMembers(call.request_id, req);
  if (!members.ok()) co_return call.Error(members.status());
  co_return JsonResponse(200, SerializeMembers(*members));
}

asio::awaitable<Response> GlanceApi::ShowMember(ApiCall& call, const std::string& id,
                                                const std::string& member) {
  v1::GetImageRequest get;
  *get.mutable_caller() = call.Caller();
  get.set_id(id);
  auto image = co_await metadata_.GetImage(call.request_id, get);
  if (!image.ok()) co_return call.Error(image.status());
  // Glance turns every refusal here into 404, so that a membership is never confirmed to
  // someone who may not see it.
  const std::string not_found = member + " not found in the member list of the image " + id + ".";
  if (!call.Allowed("get_member", ImageTarget(*image, call.identity))) {
    co_return call.Error(404, not_found);
  }
  auto req = MemberRequest<v1::GetMemberRequest>(call, id, member);
  auto found = co_await metadata_.GetMember(call.request_id, req);
  if (!found.ok()) {
    absl::StatusCode code = found.status().code();
    bool refused =
        code == absl::StatusCode::kNotFound || code == absl::StatusCode::kPermissionDenied;
    co_return refused ? call.Error(404, not_found) : call.Error(found.status());
  }
  co_return JsonResponse(200, SerializeMember(*found));
}

asio::awaitable<Response> GlanceApi::UpdateMember(ApiCall& call, const std::string& id,
                                                  const std::string& member) {
  Response error;
  auto body = co_await ReadJsonBody(call, &error);
  if (!body) co_return error;
  auto status = ParseMemberStatusBody(*body);
  if (!status.ok()) co_return call.Error(status.status());
  auto image = co_await AuthorizedImage(metadata_, call, id, "modify_member", &error);
  if (!image) co_return error;
  auto req = MemberRequest<v1::UpdateMemberRequest>(call, id, member);
  req.set_status(*status);
  auto updated = co_await metadata_.UpdateMember(call.request_id, req);
  if (!updated.ok()) co_return call.Error(updated.status());
  LogMemberChange("member updated", call, id, member);
  co_return JsonResponse(200, SerializeMember(*updated));
}

asio::awaitable<Response> GlanceApi::DeleteMember(ApiCall& call, const std::string& id,
                                                  const std::string& member) {
  Response error;
  auto image = co_await AuthorizedImage(metadata_, call, id, "delete_member", &error);
  if (!image) co_return error;
  auto req = MemberRequest<v1::DeleteMemberRequest>(call, id, member);
  auto deleted = co_await metadata_.DeleteMember(call.request_id, req);
  if (!deleted.ok()) co_return call.Error(deleted.status());
  LogMemberChange("member deleted", call, id, member);
  co_return NoContent();
}

asio::awaitable<Response> GlanceApi::Usage(ApiCall& call) {
  v1::GetUsageRequest req;
  *req.mutable_caller() = call.Caller();
  auto usage = co_await metadata_.GetUsage(call.request_id, req);
  if (!usage.ok()) co_return call.Error(usage.status());
  co_return JsonResponse(200, SerializeUsage(*usage));
}

}  // namespace gaze::gateway
