#include "api-gateway/api_call.h"

#include "api-gateway/errors.h"
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

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.With("Content-Type", "application/json");
  return r;
}

}  // namespace gaze::gateway
