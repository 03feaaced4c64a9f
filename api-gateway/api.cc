#include "api-gateway/api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <optional>

#include "api-gateway/api_call.h"
#include "api-gateway/errors.h"
#include "api-gateway/image_data.h"
#include "api-gateway/image_json.h"
#include "api-gateway/image_patch.h"
#include "api-gateway/list_query.h"
#include "api-gateway/metadata_client.h"
#include "api-gateway/schemas.h"
#include "services/auth/static_tokens.h"
#include "services/common/log.h"

namespace gaze::gateway {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// Splits "/a/b/c" into {"a","b","c"}; a single trailing slash is ignored.
std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t i = 1;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    out.emplace_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  return out;
}

// Glance v2 resources that exist in every Glance deployment but not yet in Gaze: they answer
// 501 rather than 404, so that nobody mistakes them for a missing image. (Features Glance
// itself answers 404 for when they are switched off — /v2/info/stores, /v2/cache,
// /v2/images/{id}/stage, /v2/stores — keep Glance's 404.)
std::optional<std::string_view> NotYetImplemented(const std::vector<std::string>& seg) {
  if (seg.empty()) return std::nullopt;
  const std::string& root = seg[0];
  if (root == "images" && seg.size() >= 3) {
    const std::string& sub = seg[2];
    if (sub == "actions" && seg.size() == 4 && (seg[3] == "deactivate" || seg[3] == "reactivate")) {
      return "Image deactivation";
    }
    if (sub == "members" && seg.size() <= 4) return "Image sharing (members)";
    if (sub == "import" && seg.size() == 3) return "Interoperable image import";
    if (sub == "tasks" && seg.size() == 3) return "The image tasks API";
    if (sub == "locations" && seg.size() == 3) return "The locations API";
  }
  if (root == "info" && seg.size() == 2 && (seg[1] == "import" || seg[1] == "usage")) {
    return seg[1] == "import" ? "Interoperable image import" : "Quota usage";
  }
  if (root == "tasks" && seg.size() <= 2) return "The tasks API";
  if (root == "metadefs") return "The metadata definitions catalog";
  if (root == "schemas" && seg.size() >= 2 && seg[1] != "image" && seg[1] != "images") {
    return "This schema";
  }
  return std::nullopt;
}

// The version prefixes routed to the v2 API: the bare major version and every advertised
// minor version.
bool IsV2Prefix(std::string_view segment) { return segment == "v2" || segment == "v2.0"; }

Response MethodNotAllowed(ApiCall& call, std::string allow) {
  Response r =
      call.Error(405, "The method " + call.request.method + " is not allowed for this resource.");
  r.With("Allow", std::move(allow));
  return r;
}

Response PlainResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.With("Content-Type", "text/plain; charset=UTF-8");
  return r;
}

}  // namespace

GlanceApi::GlanceApi(ApiOptions options, MetadataClient& metadata, ImageData& data,
                     const auth::StaticTokens& tokens)
    : options_(std::move(options)), metadata_(metadata), data_(data), tokens_(tokens) {}

GlanceApi::~GlanceApi() = default;

Response GlanceApi::Versions(int status) const {
  // Gaze advertises the minor versions whose every feature it implements (see
  // docs/api-compatibility.md). Later minors are added as their features land.
  json::object doc{
      {"versions", json::array{json::object{
                       {"id", "v2.0"},
                       {"status", "CURRENT"},
                       {"links", json::array{json::object{
                                     {"rel", "self"}, {"href", options_.public_url + "/v2/"}}}}}}}};
  return JsonResponse(status, json::serialize(doc));
}

Response GlanceApi::Unauthorized(const Request& request, const std::string& request_id) const {
  LogRejected(request, request_id, 401, "missing or unknown token");
  Response r = ErrorResponse(401, "The request you have made requires authentication.",
                             request.FindHeader("Accept"));
  r.With("WWW-Authenticate", "Keystone uri=\"" + options_.public_url + "\"");
  return r;
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
  if (path == "/versions") co_return Versions(200);
  std::vector<std::string> segments = Segments(path);
  if (!segments.empty() && IsV2Prefix(segments.front())) {
    co_return co_await HandleV2(request, body, request_id, path);
  }
  // Version negotiation: anything that is not an API version gets the version document.
  co_return Versions(300);
}

asio::awaitable<Response> GlanceApi::HandleV2(const Request& request, RequestBody& body,
                                              const std::string& request_id,
                                              std::string_view path) {
  std::optional<std::string_view> token = request.FindHeader("X-Auth-Token");
  if (!token) token = request.FindHeader("X-Storage-Token");
  std::optional<auth::Identity> identity;
  if (token) identity = tokens_.Authenticate(*token);
  if (!identity) co_return Unauthorized(request, request_id);

  ApiCall call{request, body, request_id, *std::move(identity)};
  std::vector<std::string> seg = Segments(path);
  seg.erase(seg.begin());  // the version
  const std::string& method = request.method;
  if (seg.size() == 1 && seg[0] == "images") {
    if (method == "GET") co_return co_await ListImages(call);
    if (method == "POST") co_return co_await CreateImage(call);
    co_return MethodNotAllowed(call, "GET, POST");
  }
  if (seg.size() == 2 && seg[0] == "images") {
    if (method == "GET") co_return co_await ShowImage(call, seg[1]);
    if (method == "PATCH") co_return co_await PatchImage(call, seg[1]);
    if (method == "DELETE") co_return co_await DeleteImage(call, seg[1]);
    co_return MethodNotAllowed(call, "GET, PATCH, DELETE");
  }
  if (seg.size() == 3 && seg[0] == "images" && seg[2] == "file") {
    if (method == "PUT") co_return co_await data_.Upload(call, seg[1]);
    if (method == "GET") co_return co_await data_.Download(call, seg[1]);
    co_return MethodNotAllowed(call, "GET, PUT");
  }
  if (seg.size() == 2 && seg[0] == "schemas" && (seg[1] == "image" || seg[1] == "images")) {
    if (method != "GET") co_return MethodNotAllowed(call, "GET");
    co_return JsonResponse(200, seg[1] == "image" ? ImageSchemaJson() : ImagesSchemaJson());
  }
  if (seg.size() == 4 && seg[0] == "images" && seg[2] == "tags") {
    if (method == "PUT") co_return co_await SetTag(call, seg[1], seg[3], true);
    if (method == "DELETE") co_return co_await SetTag(call, seg[1], seg[3], false);
    co_return MethodNotAllowed(call, "PUT, DELETE");
  }
  if (std::optional<std::string_view> feature = NotYetImplemented(seg)) {
    co_return call.Error(501, std::string(*feature) + " is not implemented by Gaze yet.");
  }
  co_return call.Error(404, "The resource could not be found.");
}

asio::awaitable<Response> GlanceApi::SetTag(ApiCall& call, const std::string& id,
                                            const std::string& tag, bool present) {
  if (tag.size() > 255) co_return call.Error(400, "Tag is too long: at most 255 characters.");
  for (int attempt = 1;; ++attempt) {
    v1::GetImageRequest get;
    *get.mutable_caller() = call.Caller();
    get.set_id(id);
    auto current = co_await metadata_.GetImage(call.request_id, get);
    if (!current.ok()) co_return call.Error(current.status());
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
    if (updated.ok()) {
      Response r;
      r.status = 204;
      co_return r;
    }
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
  v1::CreateImageRequest req;
  *req.mutable_caller() = call.Caller();
  *req.mutable_image() = *std::move(image);
  auto created = co_await metadata_.CreateImage(call.request_id, req);
  if (!created.ok()) co_return call.Error(created.status());
  log::Info("image created").RequestId(call.request_id).Field("image_id", created->id());
  Response r = JsonResponse(201, SerializeImage(*created));
  r.With("Location", options_.public_url + "/v2/images/" + created->id());
  co_return r;
}

asio::awaitable<Response> GlanceApi::ListImages(ApiCall& call) {
  auto query = ParseListQuery(call.request.query);
  if (!query.ok()) co_return call.Error(query.status());
  json::object doc;
  json::array images;
  std::string last_id;
  bool page_full = false;
  if (!query->zero_limit) {
    *query->request.mutable_caller() = call.Caller();
    auto page = co_await metadata_.ListImages(call.request_id, query->request);
    if (!page.ok()) co_return call.Error(page.status());
    images.reserve(static_cast<size_t>(page->images_size()));
    for (const v1::Image& image : page->images()) images.emplace_back(ImageToJson(image));
    page_full = page->page_full() && page->images_size() > 0;
    if (page_full) last_id = page->images(page->images_size() - 1).id();
  }
  doc["images"] = std::move(images);
  doc["first"] = FirstLink(call.request.query);
  doc["schema"] = "/v2/schemas/images";
  if (page_full) doc["next"] = NextLink(call.request.query, last_id);
  co_return JsonResponse(200, json::serialize(doc));
}

asio::awaitable<Response> GlanceApi::ShowImage(ApiCall& call, const std::string& id) {
  v1::GetImageRequest req;
  *req.mutable_caller() = call.Caller();
  req.set_id(id);
  auto image = co_await metadata_.GetImage(call.request_id, req);
  if (!image.ok()) co_return call.Error(image.status());
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
    v1::GetImageRequest get;
    *get.mutable_caller() = call.Caller();
    get.set_id(id);
    auto current = co_await metadata_.GetImage(call.request_id, get);
    if (!current.ok()) co_return call.Error(current.status());
    auto update = PlanPatch(*dialect, *body, *current, call.identity);
    if (!update.ok()) co_return call.Error(update.status());
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
  v1::DeleteImageRequest req;
  *req.mutable_caller() = call.Caller();
  req.set_id(id);
  auto deleted = co_await metadata_.DeleteImage(call.request_id, req);
  if (!deleted.ok()) co_return call.Error(deleted.status());
  log::Info("image deleted")
      .RequestId(call.request_id)
      .Field("image_id", id)
      .Field("task_id", deleted->task_id());
  Response r;
  r.status = 204;
  co_return r;
}

}  // namespace gaze::gateway
