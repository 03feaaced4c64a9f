// Per-image limits and per-project quotas (see quotas.h).
#include "metadata-svc/quotas.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gaze::metadata {
namespace {

using nlohmann::json;

constexpr int64_t kMiB = int64_t{1} << 20;
// The largest size limit whose byte count fits in int64 (8 EiB).
constexpr int64_t kMaxSizeLimitMiB = INT64_MAX / kMiB;

bool IsSize(QuotaResource r) {
  return r == QuotaResource::kImageSizeTotal || r == QuotaResource::kImageStageTotal;
}

size_t Index(QuotaResource r) { return static_cast<size_t>(r); }

// A size in bytes as Glance reports it: MiB, rounded up so that any data counts.
int64_t ReportedUnits(QuotaResource r, int64_t value) {
  return IsSize(r) ? value / kMiB + (value % kMiB != 0 ? 1 : 0) : value;
}

int64_t UsageOf(const ProjectUsage& u, QuotaResource r) {
  switch (r) {
    case QuotaResource::kImageSizeTotal:
      return u.size_bytes;
    case QuotaResource::kImageStageTotal:
      return u.stage_bytes;
    case QuotaResource::kImageCountTotal:
      return u.count_total;
    case QuotaResource::kImageCountUploading:
      return u.count_uploading;
  }
  return 0;
}

absl::Status Exhausted(std::string_view what, size_t attempted, int maximum) {
  return absl::ResourceExhaustedError(
      absl::StrCat("The limit has been exceeded on the number of allowed ",
                   absl::string_view(what.data(), what.size()), ". Attempted: ", attempted,
                   ", Maximum: ", maximum));
}

absl::Status CheckCount(std::string_view what, int limit, size_t before, size_t after) {
  if (limit < 0 || after <= static_cast<size_t>(limit) || after <= before) {
    return absl::OkStatus();
  }
  return Exhausted(what, after, limit);
}

absl::Status Invalid(std::string_view where, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(absl::string_view(where.data(), where.size()),
                                                 ": ", absl::string_view(why.data(), why.size())));
}

}  // namespace

absl::Status CheckImageLimits(const ImageLimits& limits, const v1::Image* before,
                              const v1::Image& after) {
  if (absl::Status s =
          CheckCount("image properties", limits.properties,
                     before ? before->properties().size() : 0, after.properties().size());
      !s.ok()) {
    return s;
  }
  return CheckCount("image tags", limits.tags,
                    before ? static_cast<size_t>(before->tags_size()) : 0,
                    static_cast<size_t>(after.tags_size()));
}

absl::Status CheckMemberLimit(const ImageLimits& limits, int64_t current_members) {
  if (limits.members < 0 || current_members < limits.members) return absl::OkStatus();
  return Exhausted("image members for this image", static_cast<size_t>(current_members) + 1,
                   limits.members);
}

const char* QuotaResourceName(QuotaResource r) {
  switch (r) {
    case QuotaResource::kImageSizeTotal:
      return "image_size_total";
    case QuotaResource::kImageStageTotal:
      return "image_stage_total";
    case QuotaResource::kImageCountTotal:
      return "image_count_total";
    case QuotaResource::kImageCountUploading:
      return "image_count_uploading";
  }
  return "";
}

absl::StatusOr<ProjectQuotas> ProjectQuotas::Parse(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Invalid("quota file", "not valid JSON");
  if (!doc.is_object()) return Invalid("quota file", "must be a JSON object");

  auto parse_limits = [](const json& j, const std::string& where) -> absl::StatusOr<Limits> {
    if (!j.is_object()) return Invalid(where, "must be an object of resource limits");
    Limits limits;
    for (const auto& [key, value] : j.items()) {
      std::string at = absl::StrCat(where, ".", key);
      const QuotaResource* found = nullptr;
      for (const QuotaResource& r : kQuotaResources) {
        if (key == QuotaResourceName(r)) found = &r;
      }
      if (found == nullptr) {
        std::vector<std::string> names;
        for (QuotaResource r : kQuotaResources) names.push_back(QuotaResourceName(r));
        return Invalid(at, absl::StrCat("unknown resource (expected one of ",
                                        absl::StrJoin(names, ", "), ")"));
      }
      if (!value.is_number_integer() ||
          (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t{INT64_MAX})) {
        return Invalid(at, "must be an integer");
      }
      int64_t limit = value.get<int64_t>();
      if (limit < -1) return Invalid(at, "must be -1 (unlimited) or at least 0");
      if (IsSize(*found) && limit > kMaxSizeLimitMiB) {
        return Invalid(at, absl::StrCat("must be at most ", kMaxSizeLimitMiB, " (MiB)"));
      }
      limits[Index(*found)] = limit;
    }
    return limits;
  };

  ProjectQuotas quotas;
  for (const auto& [key, value] : doc.items()) {
    if (key == "defaults") {
      auto limits = parse_limits(value, "defaults");
      if (!limits.ok()) return limits.status();
      quotas.defaults_ = *limits;
    } else if (key == "projects") {
      if (!value.is_object()) return Invalid("projects", "must be an object keyed by project id");
      for (const auto& [project, entry] : value.items()) {
        auto limits = parse_limits(entry, absl::StrCat("projects.", project));
        if (!limits.ok()) return limits.status();
        quotas.projects_[project] = *limits;
      }
    } else {
      return Invalid(key, "unknown key (expected \"defaults\" and \"projects\")");
    }
  }
  return quotas;
}

absl::StatusOr<ProjectQuotas> ProjectQuotas::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

std::optional<int64_t> ProjectQuotas::Limit(const std::string& project,
                                            QuotaResource resource) const {
  std::optional<int64_t> limit = defaults_[Index(resource)];
  if (auto it = projects_.find(project); it != projects_.end() && it->second[Index(resource)]) {
    limit = it->second[Index(resource)];
  }
  if (limit == -1) return std::nullopt;
  return limit;
}

bool ProjectQuotas::LimitsAny(const std::string& project,
                              const std::vector<QuotaDelta>& deltas) const {
  for (const QuotaDelta& d : deltas) {
    if (Limit(project, d.resource)) return true;
  }
  return false;
}

absl::Status ProjectQuotas::Check(const std::string& project, const ProjectUsage& usage,
                                  const std::vector<QuotaDelta>& deltas) const {
  std::vector<std::string> over;
  for (const QuotaDelta& d : deltas) {
    std::optional<int64_t> limit = Limit(project, d.resource);
    if (!limit) continue;
    int64_t used = UsageOf(usage, d.resource);
    int64_t allowed = IsSize(d.resource) ? *limit * kMiB : *limit;
    // Written so that it cannot overflow: every term is non-negative.
    if (d.delta <= allowed - used) continue;
    over.push_back(absl::StrCat("Resource ", QuotaResourceName(d.resource), " is over limit of ",
                                *limit, " due to current usage ", ReportedUnits(d.resource, used),
                                " and delta ", ReportedUnits(d.resource, d.delta)));
  }
  if (over.empty()) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("Project ", project, " is over a limit for [", absl::StrJoin(over, ", "), "]"));
}

std::optional<int64_t> ProjectQuotas::RemainingBytes(const std::string& project,
                                                     QuotaResource resource,
                                                     const ProjectUsage& usage) const {
  std::optional<int64_t> limit = Limit(project, resource);
  if (!limit || !IsSize(resource)) return std::nullopt;
  return std::max<int64_t>(0, *limit * kMiB - UsageOf(usage, resource));
}

std::vector<v1::QuotaUsage> ProjectQuotas::Report(const std::string& project,
                                                  const ProjectUsage& usage) const {
  std::vector<v1::QuotaUsage> report;
  for (QuotaResource r : kQuotaResources) {
    std::optional<int64_t> limit = Limit(project, r);
    if (!limit) continue;
    v1::QuotaUsage& u = report.emplace_back();
    u.set_resource(QuotaResourceName(r));
    u.set_limit(*limit);
    u.set_usage(ReportedUnits(r, UsageOf(usage, r)));
  }
  return report;
}

}  // namespace gaze::metadata
