// Error responses exactly as Glance (webob) renders them, and the one mapping from
// absl::Status codes to HTTP status codes.
//
// webob negotiates the error body on the Accept header among text/html and application/json:
//   text/html preferred (e.g. "*/*", or an unparsable header)  -> HTML page
//   application/json preferred                                 -> {"message","code","title"}
//   neither acceptable (incl. no Accept header at all)         -> text/plain
// python-glanceclient (requests sends "Accept: */*") gets HTML and strips the tags.
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "api-gateway/http_message.h"

namespace gaze::gateway {

// "Not Found" for 404 etc. (webob's titles).
std::string_view ReasonPhrase(int status);

enum class ErrorFormat { kHtml, kJson, kPlain };
ErrorFormat NegotiateErrorFormat(std::optional<std::string_view> accept);

// A complete error response. `explanation` is the human-readable message (Glance's wording).
Response ErrorResponse(int status, std::string_view explanation,
                       std::optional<std::string_view> accept);

// The HTTP status for an error from a library or from metadata-svc.
int HttpStatusFor(absl::StatusCode code);

// ErrorResponse for a non-OK status. Internal errors get a generic explanation: their
// message is logged, not shown.
Response ErrorFromStatus(const absl::Status& status, std::optional<std::string_view> accept);

}  // namespace gaze::gateway
