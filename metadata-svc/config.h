// Configuration of the metadata-svc binary: one struct, filled from ABSL_FLAGs (each with the
// environment override GAZE_<FLAG NAME>, see services/common/flags.h) and validated.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "metadata-svc/quotas.h"
#include "services/common/log.h"

namespace gaze::metadata {

enum class Command { kServe, kMigrate, kProbe, kRestore };

struct Config {
  Command command = Command::kServe;
  std::string grpc_listen;
  int grpc_port = 0;
  std::string pg_dsn;
  int pg_pool_size = 0;
  int pg_connect_timeout_seconds = 0;
  int pg_acquire_timeout_ms = 0;
  std::string amqp_url;
  std::string task_queue;
  int relay_batch = 0;
  int sweep_interval_ms = 0;
  int task_redrive_interval_ms = 0;
  int task_redrive_after_seconds = 0;
  int task_max_attempts = 0;
  int task_time_to_live_hours = 0;
  int delayed_delete_seconds = 0;  // 0 = off
  int list_limit_default = 0;
  int list_limit_max = 0;
  ImageLimits image_limits;
  std::string quota_file;  // "" = no per-project quotas
  ProjectQuotas quotas;    // loaded from quota_file
  log::Level log_level = log::Level::kInfo;
  std::string probe_target;      // "host:port"; defaults to 127.0.0.1:<grpc_port>
  std::string restore_image_id;  // `restore IMAGE_ID`
};

// Builds the Config from the current flag values and the positional arguments (the command:
// "serve" (default), "migrate", "probe" or "restore IMAGE_ID"). INVALID_ARGUMENT names the
// offending flag or argument.
absl::StatusOr<Config> ConfigFromFlags(const std::vector<std::string>& positional);

// Parses argv and the environment; on any invalid value prints the reason and exits with 2
// (gaze::ConfigError).
Config LoadConfig(int argc, char** argv);

}  // namespace gaze::metadata
