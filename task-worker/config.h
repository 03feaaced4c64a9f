// task-worker's configuration: one field per flag of main.cc, whose defaults are the defaults
// written here. GAZE_<FLAG> environment variables override them (services/common/flags.h).
#pragma once

#include <string>

#include "absl/status/status.h"

namespace gaze::worker {

struct Config {
  // host:port of metadata-svc's gRPC API.
  std::string metadata_target = "127.0.0.1:9191";
  // RabbitMQ: amqp://user:password@host:port/vhost.
  std::string amqp_url = "amqp://guest:guest@127.0.0.1:5682/";
  // Queue the task messages arrive on (its ".dead" sibling holds the dead letters).
  std::string task_queue = "gaze.tasks";
  // Deliveries RabbitMQ may hand this worker before it acks any.
  int prefetch = 4;
  // Lease holder name in metadata-svc; unique per process.
  std::string worker_id = DefaultWorkerId();
  // The file store's directory (absolute).
  std::string data_dir = "/var/lib/gaze/images";
  // How long a claimed task stays this worker's without renewal.
  int task_lease_seconds = 300;
  // debug | info | warning | error
  std::string log_level = "info";

  // "<hostname>-<pid>".
  static std::string DefaultWorkerId();
};

// INVALID_ARGUMENT naming the first bad option.
absl::Status Validate(const Config& config);

}  // namespace gaze::worker
