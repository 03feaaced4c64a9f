// What a Glance API handler gets for one request: the request, its body, the request id, the
// authenticated caller, and helpers that build Glance-style error responses (and log them
// with the request id, so every rejected request leaves a trace).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "api-gateway/http_message.h"
#include "gaze/metadata/v1/metadata.pb.h"
#include "services/auth/identity.h"

namespace gaze::gateway {

struct ApiCall {
  const Request& request;
  RequestBody& body;
  const std::string& request_id;
  auth::Identity identity;

  std::optional<std::string_view> accept() const { return request.FindHeader("Accept"); }
  // The caller as metadata-svc needs it.
  metadata::v1::Caller Caller() const;
  Response Error(int status, std::string_view explanation) const;
  Response Error(const absl::Status& status) const;
};

// Logs a rejected request (4xx) with its request id, so that no bad input goes unrecorded.
void LogRejected(const Request& request, const std::string& request_id, int status,
                 std::string_view reason);

// A JSON response (Content-Type: application/json).
Response JsonResponse(int status, std::string body);

}  // namespace gaze::gateway
