#include "task-worker/config.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "services/amqp/url.h"
#include "services/common/log.h"

namespace gaze::worker {
namespace {

// RabbitMQ caps names at 255 bytes, and the amqp library appends ".dead".
constexpr size_t kMaxQueueName = 250;
constexpr int kMaxLeaseSeconds = 24 * 3600;

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
  return absl::OkStatus();
}

}  // namespace gaze::worker
