// The Glance Images API v2 as Gaze serves it: authentication, version discovery, routing,
// the action policy, schemas and the metadata routes (images, tags, actions, members, quota
// usage; api.cc), interoperable import and tasks (api_import.cc). Image data (PUT/GET /file,
// PUT /stage) is in image_data.h; the route table in routes.h.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "api-gateway/http_message.h"
#include "api-gateway/public_url.h"

namespace gaze::auth {
class Authenticator;
class Policy;
}  // namespace gaze::auth

namespace gaze::gateway {

class MetadataClient;
class ImageData;
struct ApiCall;

struct ApiOptions {
  // The URL clients reach the API at (links, Location headers, the version document).
  PublicUrl public_url;
  // Where a client without a valid token should authenticate: Keystone's URL, or our own
  // public URL with static tokens. Sent as WWW-Authenticate: Keystone uri="…".
  std::string www_authenticate_uri;
  // Largest accepted JSON request body.
  size_t max_json_body = 1 << 20;
  // How many times PATCH re-reads and re-applies itself when a concurrent change wins.
  int patch_attempts = 3;
  // The enabled import methods by Glance name, in configuration order (ParseImportMethods).
  std::vector<std::string> import_methods;
};

class GlanceApi {
 public:
  GlanceApi(ApiOptions options, MetadataClient& metadata, ImageData& data,
            auth::Authenticator& authenticator, const auth::Policy& policy);
  ~GlanceApi();

  // Serves one request. Never throws; the response always has a status.
  boost::asio::awaitable<Response> Handle(const Request& request, RequestBody& body,
                                          const std::string& request_id);

  // /readyz answers 503 from now on (the server is shutting down).
  void StartDraining() { draining_.store(true); }

 private:
  boost::asio::awaitable<Response> HandleV2(const Request& request, RequestBody& body,
                                            const std::string& request_id, std::string_view path);
  boost::asio::awaitable<Response> CreateImage(ApiCall& call);
  boost::asio::awaitable<Response> ListImages(ApiCall& call);
  boost::asio::awaitable<Response> ShowImage(ApiCall& call, const std::string& id);
  boost::asio::awaitable<Response> PatchImage(ApiCall& call, const std::string& id);
  boost::asio::awaitable<Response> DeleteImage(ApiCall& call, const std::string& id);
  // PUT (present) and DELETE (!present) /v2/images/{id}/tags/{tag}.
  boost::asio::awaitable<Response> SetTag(ApiCall& call, const std::string& id,
                                          const std::string& tag, bool present);
  // POST /v2/images/{id}/actions/deactivate (deactivate) and …/reactivate (!deactivate).
  boost::asio::awaitable<Response> ChangeStatus(ApiCall& call, const std::string& id,
                                                bool deactivate);
  boost::asio::awaitable<Response> AddMember(ApiCall& call, const std::string& id);
  boost::asio::awaitable<Response> ListMembers(ApiCall& call, const std::string& id);
  boost::asio::awaitable<Response> ShowMember(ApiCall& call, const std::string& id,
                                              const std::string& member);
  boost::asio::awaitable<Response> UpdateMember(ApiCall& call, const std::string& id,
                                                const std::string& member);
  boost::asio::awaitable<Response> DeleteMember(ApiCall& call, const std::string& id,
                                                const std::string& member);
  boost::asio::awaitable<Response> Usage(ApiCall& call);
  bool ImportMethodEnabled(std::string_view method) const;
  boost::asio::awaitable<Response> ImportImage(ApiCall& call, const std::string& id);
  boost::asio::awaitable<Response> ListImageTasks(ApiCall& call, const std::string& id);
  boost::asio::awaitable<Response> ListTasks(ApiCall& call);
  boost::asio::awaitable<Response> ShowTask(ApiCall& call, const std::string& task_id);
  Response CreateTask(const ApiCall& call) const;
  Response DeleteTask(const ApiCall& call) const;
  // Reads a JSON body or produces the error response (400 none, 413 too large).
  boost::asio::awaitable<std::optional<std::string>> ReadJsonBody(ApiCall& call, Response* error);
  Response Versions(const Request& request, int status) const;
  Response Unauthorized(const Request& request, const std::string& request_id,
                        std::string_view reason) const;
  Response AuthUnavailable(const Request& request, const std::string& request_id,
                           std::string_view reason) const;

  ApiOptions options_;
  MetadataClient& metadata_;
  ImageData& data_;
  auth::Authenticator& authenticator_;
  const auth::Policy& policy_;
  std::atomic<bool> draining_{false};
};

}  // namespace gaze::gateway
