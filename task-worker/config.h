// task-worker's configuration: one field per flag of main.cc, whose defaults are the defaults
// written here. GAZE_<FLAG> environment variables override them (services/common/flags.h).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "services/fetch/uri_policy.h"

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

  // Imports (contract §6). Multihash algorithm of os_hash_value (an OpenSSL digest name).
  std::string os_hash_algo = "sha512";
  // Largest image in bytes: downloaded, decompressed or converted (Glance's image_size_cap).
  int64_t image_size_cap = int64_t{1} << 40;
  // Local scratch space for imports (absolute); empty: "work" beside data_dir.
  std::string work_dir;
  // The import plugins, in pipeline order (import_plugins.h): decompress, inspect (required),
  // convert, inject.
  std::string import_plugins = "decompress,inspect,convert";
  // Target of the convert plugin: raw or qcow2.
  std::string convert_to = "raw";
  // "key=value,..." set on every imported image by the inject plugin.
  std::string inject_properties;
  // web-download's URI filter, flags web_download_<field> (uri_policy.h).
  fetch::UriFilterConfig web_download;
  int web_download_connect_timeout_seconds = 30;
  // A source that sends nothing for this long fails.
  int web_download_stall_timeout_seconds = 60;
  int web_download_timeout_seconds = 24 * 3600;
  // qemu-img convert is killed after this long.
  int convert_timeout_seconds = 3600;
  // Address space limit of qemu-img convert.
  int qemu_img_address_space_mib = 2048;
  // How often a running import shows its progress (and renews its lease, at least every third
  // of task_lease_seconds).
  int task_progress_seconds = 10;

  // "<hostname>-<pid>".
  static std::string DefaultWorkerId();
  // work_dir, or its default.
  std::string EffectiveWorkDir() const;
};

// INVALID_ARGUMENT naming the first bad option.
absl::Status Validate(const Config& config);

}  // namespace gaze::worker
