#include "api-gateway/routes.h"

#include <boost/json.hpp>

namespace gaze::gateway {
namespace {

namespace json = boost::json;

// The advertised versions, newest first. Gaze advertises a minor version only when it
// implements every feature that version and the ones before it added (docs/decisions.md):
// 2.1 added image members; 2.2 adds the tasks API, which Gaze does not serve yet.
struct Version {
  std::string_view id;
  std::string_view status;
};
constexpr Version kVersions[] = {{"v2.1", "CURRENT"}, {"v2.0", "SUPPORTED"}};

// Patterns are '/'-separated segments; {name} matches any one segment, a final "**" any
// number of further segments.
struct RouteEntry {
  std::string_view pattern;
  std::string_view method;
  Operation operation;
};
constexpr RouteEntry kRoutes[] = {
    {"images", "GET", Operation::kListImages},
    {"images", "POST", Operation::kCreateImage},
    {"images/{image}", "GET", Operation::kShowImage},
    {"images/{image}", "PATCH", Operation::kUpdateImage},
    {"images/{image}", "DELETE", Operation::kDeleteImage},
    {"images/{image}/file", "GET", Operation::kDownloadData},
    {"images/{image}/file", "PUT", Operation::kUploadData},
    {"images/{image}/tags/{tag}", "PUT", Operation::kAddTag},
    {"images/{image}/tags/{tag}", "DELETE", Operation::kDeleteTag},
    {"images/{image}/actions/deactivate", "POST", Operation::kDeactivate},
    {"images/{image}/actions/reactivate", "POST", Operation::kReactivate},
    {"images/{image}/members", "GET", Operation::kListMembers},
    {"images/{image}/members", "POST", Operation::kAddMember},
    {"images/{image}/members/{member}", "GET", Operation::kShowMember},
    {"images/{image}/members/{member}", "PUT", Operation::kUpdateMember},
    {"images/{image}/members/{member}", "DELETE", Operation::kDeleteMember},
    {"info/usage", "GET", Operation::kUsage},
    {"schemas/image", "GET", Operation::kImageSchema},
    {"schemas/images", "GET", Operation::kImagesSchema},
    {"schemas/member", "GET", Operation::kMemberSchema},
    {"schemas/members", "GET", Operation::kMembersSchema},
};

// Glance v2 resources that every Glance deployment has but Gaze does not serve yet: they
// answer 501 rather than 404, so that nobody mistakes them for a missing image. (Features
// Glance itself answers 404 for when they are switched off — /v2/info/stores, /v2/cache,
// /v2/images/{id}/stage, /v2/stores — keep Glance's 404.)
struct MissingEntry {
  std::string_view pattern;
  std::string_view feature;
};
constexpr MissingEntry kNotImplemented[] = {
    {"images/{image}/import", "Interoperable image import"},
    {"images/{image}/tasks", "The image tasks API"},
    {"images/{image}/locations", "The locations API"},
    {"info/import", "Interoperable image import"},
    {"tasks/**", "The tasks API"},
    {"metadefs/**", "The metadata definitions catalog"},
    {"schemas/{schema}/**", "This schema"},
};

// Matches `segments` against `pattern`, filling `route`'s path parameters.
bool Matches(std::string_view pattern, std::span<const std::string> segments, Route* route) {
  size_t i = 0;
  while (!pattern.empty()) {
    size_t slash = pattern.find('/');
    std::string_view part = pattern.substr(0, slash);
    pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash + 1);
    if (part == "**") return true;
    if (i >= segments.size()) return false;
    const std::string& segment = segments[i++];
    if (part == "{image}") {
      route->image_id = segment;
    } else if (part == "{member}") {
      route->member_id = segment;
    } else if (part == "{tag}") {
      route->tag = segment;
    } else if (part.front() != '{' && part != segment) {
      return false;
    }
  }
  return i == segments.size();
}

}  // namespace

std::vector<std::string> PathSegments(std::string_view path) {
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

bool IsApiVersion(std::string_view segment) {
  if (segment == "v2") return true;
  for (const Version& v : kVersions) {
    if (v.id == segment) return true;
  }
  return false;
}

Route MatchRoute(std::string_view method, std::span<const std::string> segments) {
  Route route;
  for (const RouteEntry& entry : kRoutes) {
    Route candidate;
    if (!Matches(entry.pattern, segments, &candidate)) continue;
    if (entry.method == method) {
      candidate.outcome = Route::Outcome::kMatched;
      candidate.operation = entry.operation;
      return candidate;
    }
    route.outcome = Route::Outcome::kMethodNotAllowed;
    if (!route.allow.empty()) route.allow += ", ";
    route.allow += entry.method;
  }
  if (route.outcome == Route::Outcome::kMethodNotAllowed) return route;
  for (const MissingEntry& entry : kNotImplemented) {
    Route ignored;
    if (Matches(entry.pattern, segments, &ignored)) {
      route.outcome = Route::Outcome::kNotImplemented;
      route.feature = entry.feature;
      return route;
    }
  }
  return route;
}

std::string VersionsJson(std::string_view public_url) {
  std::string href = std::string(public_url) + "/v2/";
  json::array versions;
  for (const Version& v : kVersions) {
    versions.push_back(
        json::object{{"id", json::string_view(v.id.data(), v.id.size())},
                     {"status", json::string_view(v.status.data(), v.status.size())},
                     {"links", json::array{json::object{{"rel", "self"}, {"href", href}}}}});
  }
  return json::serialize(json::object{{"versions", std::move(versions)}});
}

}  // namespace gaze::gateway
