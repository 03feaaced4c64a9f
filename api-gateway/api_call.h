// What a Glance API handler gets for one request: the request, its body, the request id, the
// authenticated caller and the action policy, with helpers that apply the policy the way
// Glance does and build Glance-style error responses (logged with the request id, so every
// rejected request leaves a trace).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "api-gateway/http_message.h"
#include "gaze/metadata/v1/metadata.pb.h"
#include "services/auth/identity.h"
#include "services/auth/policy.h"

namespace gaze::gateway {

class MetadataClient;

struct ApiCall {
  const Request& request;
  RequestBody& body;
  const std::string& request_id;
  auth::Identity identity;
  const auth::Policy& policy;

  std::optional<std::string_view> accept() const { return request.FindHeader("Accept"); }
  // The caller as metadata-svc needs it.
  metadata::v1::Caller Caller() const;
  Response Error(int status, std::string_view explanation) const;
  Response Error(const absl::Status& status) const;

  bool Allowed(std::string_view rule, const auth::PolicyTarget& target) const {
    return policy.Allowed(rule, identity, target);
  }
  // Applies `rule` to `image` (which metadata-svc showed the caller) as Glance does: nullopt
  // when allowed; otherwise 404 when the caller may not even see the image (get_image), and
  // 403 when it may.
  std::optional<Response> Authorize(std::string_view rule, const metadata::v1::Image& image) const;
  // 403 unless `rule` allows the action on `target`.
  std::optional<Response> Authorize(std::string_view rule, const auth::PolicyTarget& target) const;
};

// An image as a policy target (Glance's ImageTarget): `project_id` and `owner` are its owner,
// `member_id` is the caller's project when the caller sees the image as a member of it, then
// its other base attributes and its free-form properties. With `only`, just those attributes
// (see Policy::TargetAttributes).
auth::PolicyTarget ImageTarget(const metadata::v1::Image& image, const auth::Identity& caller,
                               const std::set<std::string, std::less<>>* only = nullptr);

// The image `id` as the caller sees it, checked against the policy rule `rule` (Authorize);
// otherwise nullopt and the error response in `*error`.
boost::asio::awaitable<std::optional<metadata::v1::Image>> AuthorizedImage(MetadataClient& metadata,
                                                                           ApiCall& call,
                                                                           const std::string& id,
                                                                           std::string_view rule,
                                                                           Response* error);

// Logs a rejected request (4xx) with its request id, so that no bad input goes unrecorded.
void LogRejected(const Request& request, const std::string& request_id, int status,
                 std::string_view reason);

// 405 with `allow` as the Allow header; the explanation is webob's unless given.
Response MethodNotAllowed(const ApiCall& call, std::string allow,
                          std::string_view explanation = {});

// A JSON response (Content-Type: application/json).
Response JsonResponse(int status, std::string body);
// 204, no body.
Response NoContent();

}  // namespace gaze::gateway
