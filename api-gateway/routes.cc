#include "api-gateway/routes.h"

#include <boost/json.hpp>
#include <iterator>

namespace gaze::gateway {
namespace {

namespace json = boost::json;

// Every minor version of the API (contract §1.3), oldest first, and whether Gaze has everything
// it added. Gaze advertises the versions from 2.0 up to the first incomplete one
// (docs/decisions.md): a client that finds 2.N listed may use everything up to 2.N of the
// images API (glanceclient, for one, offers image-tasks only once it sees 2.12). Features
// that need what Glance ships switched off (property protections, multiple stores, the image
// cache, exposed locations) do not make a version incomplete; "(off)" marks them below. Nor
// does the metadata definitions catalog, a separate API under /v2/metadefs that 2.2 added
// and Gaze answers 501 for.
struct Version {
  std::string_view id;
  bool complete;
};
constexpr Version kVersions[] = {
    {"v2.0", true},    // images, image data, tags, schemas
    {"v2.1", true},    // image members
    {"v2.2", true},    // property protections (off), the tasks API; metadefs (501)
    {"v2.3", true},    // deactivate and reactivate
    {"v2.4", true},    // location rules (off)
    {"v2.5", true},    // community and shared visibility
    {"v2.6", true},    // interoperable import
    {"v2.7", true},    // os_hidden, multihash
    {"v2.8", true},    // multiple stores (off)
    {"v2.9", true},    // import into several stores (off)
    {"v2.10", true},   // deleting from a store, copy-image (off)
    {"v2.11", true},   // the import lock, task messages, virtual_size from inspection
    {"v2.12", true},   // GET /v2/images/{id}/tasks
    {"v2.13", true},   // GET /v2/info/usage
    {"v2.14", true},   // the image cache (off)
    {"v2.15", true},   // store details (off)
    {"v2.16", true},   // the image cache (off)
    {"v2.17", false},  // the location API, POST and GET /v2/images/{id}/locations
    {"v2.18", true},   // the image cache (off)
};

// How many versions, from the oldest, are advertised.
constexpr size_t AdvertisedCount() {
  size_t n = 0;
  while (n < std::size(kVersions) && kVersions[n].complete) ++n;
  return n;
}
constexpr std::span<const Version> kAdvertised(kVersions, AdvertisedCount());

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
    {"images/{image}/stage", "PUT", Operation::kStageData},
    {"images/{image}/import", "POST", Operation::kImportImage},
    {"images/{image}/tasks", "GET", Operation::kListImageTasks},
    {"info/usage", "GET", Operation::kUsage},
    {"info/import", "GET", Operation::kImportInfo},
    {"tasks", "GET", Operation::kListTasks},
    {"tasks", "POST", Operation::kCreateTask},
    {"tasks/{task}", "GET", Operation::kShowTask},
    {"tasks/{task}", "DELETE", Operation::kDeleteTask},
    {"schemas/image", "GET", Operation::kImageSchema},
    {"schemas/images", "GET", Operation::kImagesSchema},
    {"schemas/member", "GET", Operation::kMemberSchema},
    {"schemas/members", "GET", Operation::kMembersSchema},
    {"schemas/task", "GET", Operation::kTaskSchema},
    {"schemas/tasks", "GET", Operation::kTasksSchema},
};

// Glance v2 resources that every Glance deployment has but Gaze does not serve yet: they
// answer 501 rather than 404, so that nobody mistakes them for a missing image. (Features
// Glance itself answers 404 for when they are switched off — /v2/info/stores, /v2/cache,
// /v2/stores — keep Glance's 404.)
struct MissingEntry {
  std::string_view pattern;
  std::string_view feature;
};
constexpr MissingEntry kNotImplemented[] = {
    {"images/{image}/locations", "The locations API"},
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
    } else if (part == "{task}") {
      route->task_id = segment;
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
  for (const Version& v : kAdvertised) {
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
  // Newest first; the newest is CURRENT.
  for (auto v = kAdvertised.rbegin(); v != kAdvertised.rend(); ++v) {
    versions.push_back(
        json::object{{"id", json::string_view(v->id.data(), v->id.size())},
                     {"status", v == kAdvertised.rbegin() ? "CURRENT" : "SUPPORTED"},
                     {"links", json::array{json::object{{"rel", "self"}, {"href", href}}}}});
  }
  return json::serialize(json::object{{"versions", std::move(versions)}});
}

}  // namespace gaze::gateway
