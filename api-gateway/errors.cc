#include "api-gateway/errors.h"

#include <string>
#include <vector>

#include "services/common/json_string.h"

namespace gaze::gateway {
namespace {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#x27;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct MediaRange {
  std::string type;
  std::string subtype;
  double q = 1.0;
};

// Parses an Accept header; false when it is not syntactically valid (webob then treats every
// offer as acceptable).
bool ParseAccept(std::string_view header, std::vector<MediaRange>* out) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view item = Trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (item.empty()) continue;
    size_t semi = item.find(';');
    std::string_view range = Trim(item.substr(0, semi));
    size_t slash = range.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == range.size()) return false;
    MediaRange m;
    for (char c : range.substr(0, slash)) m.type += static_cast<char>(std::tolower(c));
    for (char c : range.substr(slash + 1)) m.subtype += static_cast<char>(std::tolower(c));
    if (m.type == "*" && m.subtype != "*") return false;
    std::string_view params = semi == std::string_view::npos ? "" : item.substr(semi + 1);
    while (!params.empty()) {
      size_t next = params.find(';');
      std::string_view p = Trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
        std::string value(p.substr(2));
        char* end = nullptr;
        m.q = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || *end != '\0' || m.q < 0 || m.q > 1) return false;
      }
    }
    out->push_back(std::move(m));
  }
  return true;
}

// The q-value the header gives `type/subtype`: the most specific matching range wins.
double QualityOf(const std::vector<MediaRange>& ranges, std::string_view type,
                 std::string_view subtype) {
  int best_specificity = -1;
  double q = 0;
  for (const MediaRange& m : ranges) {
    int specificity = -1;
    if (m.type == type && m.subtype == subtype) {
      specificity = 2;
    } else if (m.type == type && m.subtype == "*") {
      specificity = 1;
    } else if (m.type == "*" && m.subtype == "*") {
      specificity = 0;
    }
    if (specificity > best_specificity) {
      best_specificity = specificity;
      q = m.q;
    }
  }
  return q;
}

}  // namespace

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Request Entity Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Requested Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

ErrorFormat NegotiateErrorFormat(std::optional<std::string_view> accept) {
  std::vector<MediaRange> ranges;
  // webob reads a missing header as "" which is a valid, empty header: nothing acceptable.
  if (!ParseAccept(accept.value_or(""), &ranges)) return ErrorFormat::kHtml;
  double html = QualityOf(ranges, "text", "html");
  double json = QualityOf(ranges, "application", "json");
  if (html <= 0 && json <= 0) return ErrorFormat::kPlain;
  return html >= json ? ErrorFormat::kHtml : ErrorFormat::kJson;
}

Response ErrorResponse(int status, std::string_view explanation,
                       std::optional<std::string_view> accept) {
  std::string code = std::to_string(status) + " " + std::string(ReasonPhrase(status));
  Response r;
  r.status = status;
  switch (NegotiateErrorFormat(accept)) {
    case ErrorFormat::kHtml:
      r.body = "<html>\n <head>\n  <title>" + code + "</title>\n </head>\n <body>\n  <h1>" + code +
               "</h1>\n  " + HtmlEscape(explanation) + "<br /><br />\n\n\n\n </body>\n</html>";
      r.With("Content-Type", "text/html; charset=UTF-8");
      break;
    case ErrorFormat::kJson: {
      r.body = "{\"message\": ";
      AppendJsonString(r.body, std::string(explanation) + "<br /><br />\n\n\n");
      r.body += ", \"code\": ";
      AppendJsonString(r.body, code);
      r.body += ", \"title\": ";
      AppendJsonString(r.body, ReasonPhrase(status));
      r.body += "}";
      r.With("Content-Type", "application/json");
      break;
    }
    case ErrorFormat::kPlain:
      r.body = code + "\n\n" + std::string(explanation) + "\n\n\n\n";
      r.With("Content-Type", "text/plain; charset=UTF-8");
      break;
  }
  return r;
}

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
      return 503;
    default:
      return 500;
  }
}

Response ErrorFromStatus(const absl::Status& status, std::optional<std::string_view> accept) {
  int http = HttpStatusFor(status.code());
  if (http == 500) {
    return ErrorResponse(500,
                         "The server has either erred or is incapable of performing the "
                         "requested operation.",
                         accept);
  }
  if (http == 503) return ErrorResponse(503, "The service is temporarily unavailable.", accept);
  absl::string_view msg = status.message();
  return ErrorResponse(http, std::string_view(msg.data(), msg.size()), accept);
}

}  // namespace gaze::gateway
