// The Glance v2 route table, the version prefixes the API answers to and the versions
// document (contract §1, §2): which operation a method and path select, independent of how
// the operation is carried out.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gaze::gateway {

enum class Operation {
  kListImages,
  kCreateImage,
  kShowImage,
  kUpdateImage,
  kDeleteImage,
  kDownloadData,
  kUploadData,
  kAddTag,
  kDeleteTag,
  kDeactivate,
  kReactivate,
  kListMembers,
  kAddMember,
  kShowMember,
  kUpdateMember,
  kDeleteMember,
  kUsage,
  kStageData,
  kImportImage,
  kImportInfo,
  kListImageTasks,
  kListTasks,
  kCreateTask,
  kShowTask,
  kDeleteTask,
  kImageSchema,
  kImagesSchema,
  kMemberSchema,
  kMembersSchema,
  kTaskSchema,
  kTasksSchema,
};

struct Route {
  enum class Outcome {
    kMatched,
    kMethodNotAllowed,  // a known path: 405 with `allow`
    kNotImplemented,    // a Glance resource Gaze does not serve yet: 501 naming `feature`
    kNotFound,
  };
  Outcome outcome = Outcome::kNotFound;
  Operation operation = Operation::kListImages;
  // The path parameters of a match ({image}, {member}, {tag}, {task}); empty when absent.
  std::string image_id;
  std::string member_id;
  std::string tag;
  std::string task_id;
  std::string allow;
  std::string_view feature;
};

// Splits a percent-decoded path "/a/b" into {"a", "b"}; a single trailing slash is ignored.
std::vector<std::string> PathSegments(std::string_view path);

// True for a first path segment that selects the v2 API: "v2" and every advertised "v2.N".
bool IsApiVersion(std::string_view segment);

// The route for `method` on the path below the version prefix (e.g. {"images", "<id>"}).
Route MatchRoute(std::string_view method, std::span<const std::string> segments);

// The body of GET / (300) and GET /versions (200): every advertised version, newest first,
// each linking to `public_url`/v2/.
std::string VersionsJson(std::string_view public_url);

}  // namespace gaze::gateway
