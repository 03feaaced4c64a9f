#include "task-worker/config.h"

#include <unistd.h>

#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "services/amqp/url.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"
#include "services/store/image_hasher.h"
#include "task-worker/import_plugins.h"

namespace gaze::worker {
namespace {

// RabbitMQ caps names at 255 bytes, and the amqp library appends ".dead".
constexpr size_t kMaxQueueName = 250;
constexpr int kMaxLeaseSeconds = 24 * 3600;
// Glance's hard cap on image_size_cap is 8 EiB (2^63), one more than fits.
constexpr int64_t kMaxImageSizeCap = std::numeric_limits<int64_t>::max();
// Below this qemu-img cannot even start.
constexpr int kMinQemuImgAddressSpaceMib = 256;
constexpr int kMaxTimeoutSeconds = 7 * 24 * 3600;

absl::Status CheckSeconds(const std::string& flag, int seconds) {
  if (seconds >= 1 && seconds <= kMaxTimeoutSeconds) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": must be from 1 to ", kMaxTimeoutSeconds, ", got ", seconds));
}

absl::Status Invalid(const std::string& flag, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", problem));
}

}  // namespace

std::string Config::DefaultWorkerId() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    return absl::StrCat("task-worker-", getpid());
  }
  return absl::StrCat(host, "-", getpid());
}

std::string Config::EffectiveWorkDir() const {
  if (!work_dir.empty()) return work_dir;
  std::filesystem::path data(data_dir);
  // "/var/lib/gaze/images/" -> "/var/lib/gaze/work"
  if (!data.has_filename()) data = data.parent_path();
  return (data.parent_path() / "work").string();
}

absl::Status Validate(const Config& config) {
  if (config.metadata_target.empty()) return Invalid("metadata_target", "must not be empty");
  if (absl::StatusOr<amqp::AmqpUrl> url = amqp::ParseAmqpUrl(config.amqp_url); !url.ok()) {
    return Invalid("amqp_url", std::string(url.status().message()));
  }
  if (config.task_queue.empty() || config.task_queue.size() > kMaxQueueName) {
    return Invalid("task_queue", absl::StrCat("must have 1 to ", kMaxQueueName, " characters"));
  }
  if (config.prefetch < 1 || config.prefetch > 65535) {
    return Invalid("prefetch", absl::StrCat("must be from 1 to 65535, got ", config.prefetch));
  }
  if (config.worker_id.empty()) return Invalid("worker_id", "must not be empty");
  if (config.data_dir.empty() || config.data_dir.front() != '/') {
    return Invalid("data_dir", "must be an absolute path, got \"" + config.data_dir + "\"");
  }
  if (config.task_lease_seconds < 1 || config.task_lease_seconds > kMaxLeaseSeconds) {
    return Invalid("task_lease_seconds", absl::StrCat("must be from 1 to ", kMaxLeaseSeconds,
                                                      ", got ", config.task_lease_seconds));
  }
  log::Level level;
  if (!log::ParseLevel(config.log_level, &level)) {
    return Invalid("log_level",
                   "must be debug, info, warning or error, got \"" + config.log_level + "\"");
  }
  if (absl::StatusOr<store::ImageHasher> hasher = store::ImageHasher::Create(config.os_hash_algo);
      !hasher.ok()) {
    return Invalid("os_hash_algo", std::string(hasher.status().message()));
  }
  if (config.image_size_cap < 0 || config.image_size_cap > kMaxImageSizeCap) {
    return Invalid("image_size_cap", absl::StrCat("must be from 0 to ", kMaxImageSizeCap, ", got ",
                                                  config.image_size_cap));
  }
  if (!config.work_dir.empty() && config.work_dir.front() != '/') {
    return Invalid("work_dir", "must be an absolute path, got \"" + config.work_dir + "\"");
  }
  absl::StatusOr<ImportPlugins> plugins = ParseImportPlugins(config.import_plugins);
  if (!plugins.ok()) return plugins.status();
  if (!IsConvertTarget(config.convert_to)) {
    return Invalid("convert_to", "must be raw or qcow2, got \"" + config.convert_to + "\"");
  }
  absl::StatusOr<std::map<std::string, std::string>> inject =
      ParseInjectProperties(config.inject_properties);
  if (!inject.ok()) return inject.status();
  if (!inject->empty() && !plugins->Has(ImportPlugin::kInject)) {
    return Invalid("inject_properties", "is set, but inject is not in --import_plugins");
  }
  if (absl::StatusOr<fetch::UriPolicy> policy = fetch::UriPolicy::Create(config.web_download);
      !policy.ok()) {
    return policy.status();
  }
  for (const auto& [flag, seconds] :
       {std::pair{"web_download_connect_timeout_seconds",
                  config.web_download_connect_timeout_seconds},
        std::pair{"web_download_stall_timeout_seconds", config.web_download_stall_timeout_seconds},
        std::pair{"web_download_timeout_seconds", config.web_download_timeout_seconds},
        std::pair{"convert_timeout_seconds", config.convert_timeout_seconds},
        std::pair{"task_progress_seconds", config.task_progress_seconds}}) {
    GAZE_RETURN_IF_ERROR(CheckSeconds(flag, seconds));
  }
  if (config.qemu_img_address_space_mib < kMinQemuImgAddressSpaceMib) {
    return Invalid("qemu_img_address_space_mib",
                   absl::StrCat("must be at least ", kMinQemuImgAddressSpaceMib, ", got ",
                                config.qemu_img_address_space_mib));
  }
  return absl::OkStatus();
}

}  // namespace gaze::worker
