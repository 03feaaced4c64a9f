// What an image and a project may hold: Glance's per-image limits (properties, tags and
// members of one image) and the per-project quotas of its unified limits.
//
// Per-project quotas come from the JSON file named by --quota_file:
//
//   {"defaults": {"image_count_total": 100, "image_size_total": 10240},
//    "projects": {"<project id>": {"image_count_total": 5, "image_size_total": -1}}}
//
// Resources, as Glance names them: image_count_total (images that are not killed, deleted or
// pending_delete), image_size_total (MiB of data of active and deactivated images),
// image_count_uploading (images in saving, uploading or importing) and image_stage_total (MiB
// of data staged by images in uploading or importing: what PUT /stage wrote, counted until
// the import that consumes it ends). A project's own entry wins over "defaults"; -1
// means unlimited (a project can be exempted from a default); a resource set in neither is
// unlimited and not reported. Both top-level keys are optional; any other key, a negative
// limit other than -1, or a size beyond 8 EiB is an error.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

// Limits per image; a negative value means unlimited. Glance's defaults.
struct ImageLimits {
  int properties = 128;
  int tags = 128;
  int members = 128;
};

// RESOURCE_EXHAUSTED when `after` has more properties or tags than allowed and more than
// `before` had (nullptr for a new image): an image already over a lowered limit can still
// shrink.
absl::Status CheckImageLimits(const ImageLimits& limits, const v1::Image* before,
                              const v1::Image& after);
// RESOURCE_EXHAUSTED when one more member than `current_members` is over the limit.
absl::Status CheckMemberLimit(const ImageLimits& limits, int64_t current_members);

enum class QuotaResource {
  kImageSizeTotal,
  kImageStageTotal,
  kImageCountTotal,
  kImageCountUploading,
};
// In the order GetUsage reports them (Glance's).
inline constexpr QuotaResource kQuotaResources[] = {
    QuotaResource::kImageSizeTotal, QuotaResource::kImageStageTotal,
    QuotaResource::kImageCountTotal, QuotaResource::kImageCountUploading};
const char* QuotaResourceName(QuotaResource resource);

// What a project holds. Sizes in bytes; limits and reports are in MiB.
struct ProjectUsage {
  int64_t count_total = 0;
  int64_t size_bytes = 0;
  int64_t count_uploading = 0;
  int64_t stage_bytes = 0;
};

// A change a call is about to make: images, or bytes for the size resources.
struct QuotaDelta {
  QuotaResource resource;
  int64_t delta = 0;
};

class ProjectQuotas {
 public:
  // No quotas: nothing is enforced and GetUsage reports nothing.
  ProjectQuotas() = default;
  // INVALID_ARGUMENT explains what is wrong with the document.
  static absl::StatusOr<ProjectQuotas> Parse(std::string_view json);
  static absl::StatusOr<ProjectQuotas> Load(const std::string& path);

  // The limit of `project` on `resource` (MiB for sizes), or nullopt when unlimited.
  std::optional<int64_t> Limit(const std::string& project, QuotaResource resource) const;
  // True when `project` has a limit on the resource of any of `deltas`.
  bool LimitsAny(const std::string& project, const std::vector<QuotaDelta>& deltas) const;

  // RESOURCE_EXHAUSTED in oslo.limit's words when usage + delta is over a limit:
  // "Project p is over a limit for [Resource image_size_total is over limit of 10 due to
  // current usage 9 and delta 2]". Sizes compare in bytes and are reported in MiB rounded up.
  absl::Status Check(const std::string& project, const ProjectUsage& usage,
                     const std::vector<QuotaDelta>& deltas) const;
  // Bytes `project` may still store under the size resource `resource` (image_size_total or
  // image_stage_total; 0 when over), or nullopt when unlimited.
  std::optional<int64_t> RemainingBytes(const std::string& project, QuotaResource resource,
                                        const ProjectUsage& usage) const;
  // Limit and usage of every limited resource of `project`, usage in reporting units.
  std::vector<v1::QuotaUsage> Report(const std::string& project, const ProjectUsage& usage) const;

 private:
  // Per resource (indexed by QuotaResource): unset, or a limit where -1 is unlimited.
  using Limits = std::array<std::optional<int64_t>, 4>;
  Limits defaults_;
  std::map<std::string, Limits, std::less<>> projects_;
};

}  // namespace gaze::metadata
