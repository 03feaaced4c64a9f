// metadata-svc flags and their validation.
#include "metadata-svc/config.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "services/common/flags.h"

ABSL_FLAG(std::string, grpc_listen, "127.0.0.1", "Address the gRPC server binds to.");
ABSL_FLAG(int, grpc_port, 9191, "gRPC port; 0 picks an ephemeral port (logged as \"listening\").");
ABSL_FLAG(std::string, pg_dsn, "postgresql://gaze:gaze@127.0.0.1:55432/gaze",
          "PostgreSQL connection string (URI or key=value form).");
ABSL_FLAG(int, pg_pool_size, 8, "PostgreSQL connections in the pool used by the RPC handlers.");
ABSL_FLAG(int, pg_connect_timeout_seconds, 30,
          "How long start-up keeps retrying an unreachable PostgreSQL before exiting 1.");
ABSL_FLAG(int, pg_acquire_timeout_ms, 5000,
          "How long a call waits for a free pooled connection before failing UNAVAILABLE.");
ABSL_FLAG(std::string, amqp_url, "amqp://guest:guest@127.0.0.1:5682/",
          "RabbitMQ URL the outbox relay publishes task messages to.");
ABSL_FLAG(std::string, task_queue, "gaze.tasks", "RabbitMQ queue for task messages.");
ABSL_FLAG(int, relay_batch, 100, "Outbox rows published per transaction and confirm round.");
ABSL_FLAG(int, sweep_interval_ms, 1000, "Period of the expired-upload sweeper.");
ABSL_FLAG(int, task_redrive_interval_ms, 10000,
          "Period of the task re-drive, which publishes again up to 100 unfinished tasks whose "
          "message may have been lost (dead-lettered, or acked as a duplicate).");
ABSL_FLAG(int, task_redrive_after_seconds, 60,
          "A task is re-driven once it has been pending, or processing under an expired lease, "
          "for this long, and again after every further such period while it stays so. "
          "Keep it above the time a message waits in a normally loaded queue: a task re-driven "
          "early is only published twice.");
ABSL_FLAG(int, task_max_attempts, 5,
          "A task that does not delete data is failed once it has been claimed this many times "
          "without finishing (a poison message), by the next claim or the re-drive; an import's "
          "image then returns to queued. Deletes are retried for as long as it takes.");
ABSL_FLAG(int, task_time_to_live_hours, 48,
          "How long a finished task is still listed and shown (Glance's task_time_to_live).");
ABSL_FLAG(int, delayed_delete_seconds, 0,
          "0: deleting an image deletes its data at once. Above 0 (Glance's delayed_delete and "
          "scrubber): an image with data becomes pending_delete, visible to admins only, and "
          "its data is deleted after this many seconds; until then `metadata-svc restore "
          "IMAGE_ID` (or RestoreImage) brings it back.");
ABSL_FLAG(int, list_limit_default, 25,
          "ListImages and ListTasks page size when the request gives none.");
ABSL_FLAG(int, list_limit_max, 1000,
          "Largest ListImages and ListTasks page; larger requests are clamped.");
ABSL_FLAG(int, image_property_quota, 128,
          "Most free-form properties one image may have (Glance's image_property_quota); a "
          "negative value means unlimited. Over it CreateImage/UpdateImage fail "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, image_tag_quota, 128,
          "Most tags one image may have (Glance's image_tag_quota); negative means unlimited.");
ABSL_FLAG(int, image_member_quota, 128,
          "Most members one image may have (Glance's image_member_quota); negative means "
          "unlimited.");
ABSL_FLAG(std::string, quota_file, "",
          "JSON file of per-project quotas (Glance's unified limits), read at start-up; empty "
          "means no quotas. Format: {\"defaults\": {\"image_count_total\": 100, "
          "\"image_size_total\": 10240}, \"projects\": {\"<project id>\": "
          "{\"image_count_total\": 5}}}. Resources: image_count_total (images), "
          "image_size_total (MiB), image_count_uploading (images), image_stage_total (MiB). A "
          "project's entry wins over defaults; -1 is unlimited; a resource in neither is "
          "unlimited and not reported. An invalid file stops start-up.");
ABSL_FLAG(std::string, log_level, "info", "Minimum log level: debug, info, warning or error.");
ABSL_FLAG(std::string, probe_target, "",
          "`probe` and `restore` talk to this host:port instead of 127.0.0.1:<grpc_port>.");

namespace gaze::metadata {
namespace {

constexpr char kUsage[] =
    "metadata-svc [serve|migrate|probe|restore IMAGE_ID] [--flag=value ...]\n"
    "  serve    migrate the schema, then serve gRPC until SIGTERM (default), relaying task\n"
    "           messages to RabbitMQ, sweeping expired uploads (--sweep_interval_ms) and\n"
    "           re-driving stale tasks (--task_redrive_interval_ms, --task_redrive_after_seconds)\n"
    "  migrate  apply the schema migrations and exit\n"
    "  probe    exit 0 iff the local server reports SERVING (gRPC health)\n"
    "  restore  bring a pending_delete image back to active before its data is deleted\n"
    "           (glance-scrubber --restore), through the local server as an admin\n"
    "Per-image limits: --image_property_quota, --image_tag_quota, --image_member_quota.\n"
    "Per-project quotas: --quota_file (see its help for the format).\n"
    "Tasks: --task_max_attempts, --task_time_to_live_hours; delayed delete:\n"
    "--delayed_delete_seconds.";

absl::Status AtLeast(const char* flag, int value, int minimum) {
  if (value >= minimum) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, "=", value, ": must be at least ", minimum));
}

absl::Status NotEmpty(const char* flag, const std::string& value) {
  if (!value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " must not be empty"));
}

}  // namespace

absl::StatusOr<Config> ConfigFromFlags(const std::vector<std::string>& positional) {
  Config c;
  std::string command = positional.empty() ? "serve" : positional[0];
  const size_t arguments = command == "restore" ? 1 : 0;
  if (positional.size() > 1 + arguments) {
    return absl::InvalidArgumentError(
        "expected one command (serve, migrate, probe or restore IMAGE_ID)");
  }
  if (command == "serve") {
    c.command = Command::kServe;
  } else if (command == "migrate") {
    c.command = Command::kMigrate;
  } else if (command == "probe") {
    c.command = Command::kProbe;
  } else if (command == "restore") {
    c.command = Command::kRestore;
    if (positional.size() < 2 || positional[1].empty()) {
      return absl::InvalidArgumentError("restore needs the id of the image to restore");
    }
    c.restore_image_id = positional[1];
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown command \"", command, "\" (expected serve, migrate, probe or restore)"));
  }
  c.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  c.grpc_port = absl::GetFlag(FLAGS_grpc_port);
  c.pg_dsn = absl::GetFlag(FLAGS_pg_dsn);
  c.pg_pool_size = absl::GetFlag(FLAGS_pg_pool_size);
  c.pg_connect_timeout_seconds = absl::GetFlag(FLAGS_pg_connect_timeout_seconds);
  c.pg_acquire_timeout_ms = absl::GetFlag(FLAGS_pg_acquire_timeout_ms);
  c.amqp_url = absl::GetFlag(FLAGS_amqp_url);
  c.task_queue = absl::GetFlag(FLAGS_task_queue);
  c.relay_batch = absl::GetFlag(FLAGS_relay_batch);
  c.sweep_interval_ms = absl::GetFlag(FLAGS_sweep_interval_ms);
  c.task_redrive_interval_ms = absl::GetFlag(FLAGS_task_redrive_interval_ms);
  c.task_redrive_after_seconds = absl::GetFlag(FLAGS_task_redrive_after_seconds);
  c.task_max_attempts = absl::GetFlag(FLAGS_task_max_attempts);
  c.task_time_to_live_hours = absl::GetFlag(FLAGS_task_time_to_live_hours);
  c.delayed_delete_seconds = absl::GetFlag(FLAGS_delayed_delete_seconds);
  c.list_limit_default = absl::GetFlag(FLAGS_list_limit_default);
  c.list_limit_max = absl::GetFlag(FLAGS_list_limit_max);
  c.probe_target = absl::GetFlag(FLAGS_probe_target);
  c.image_limits = {.properties = absl::GetFlag(FLAGS_image_property_quota),
                    .tags = absl::GetFlag(FLAGS_image_tag_quota),
                    .members = absl::GetFlag(FLAGS_image_member_quota)};
  c.quota_file = absl::GetFlag(FLAGS_quota_file);
  if (!c.quota_file.empty()) {
    auto quotas = ProjectQuotas::Load(c.quota_file);
    if (!quotas.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--quota_file=", c.quota_file, ": ", quotas.status().message()));
    }
    c.quotas = *std::move(quotas);
  }
  std::string level = absl::GetFlag(FLAGS_log_level);
  if (!log::ParseLevel(level, &c.log_level)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_level=", level, ": expected debug, info, warning or error"));
  }

  for (absl::Status s : {
           NotEmpty("grpc_listen", c.grpc_listen),
           AtLeast("grpc_port", c.grpc_port, 0),
           NotEmpty("pg_dsn", c.pg_dsn),
           AtLeast("pg_pool_size", c.pg_pool_size, 1),
           AtLeast("pg_connect_timeout_seconds", c.pg_connect_timeout_seconds, 0),
           AtLeast("pg_acquire_timeout_ms", c.pg_acquire_timeout_ms, 1),
           NotEmpty("amqp_url", c.amqp_url),
           NotEmpty("task_queue", c.task_queue),
           AtLeast("relay_batch", c.relay_batch, 1),
           AtLeast("sweep_interval_ms", c.sweep_interval_ms, 1),
           AtLeast("task_redrive_interval_ms", c.task_redrive_interval_ms, 1),
           AtLeast("task_redrive_after_seconds", c.task_redrive_after_seconds, 1),
           AtLeast("task_max_attempts", c.task_max_attempts, 1),
           AtLeast("task_time_to_live_hours", c.task_time_to_live_hours, 1),
           AtLeast("delayed_delete_seconds", c.delayed_delete_seconds, 0),
           AtLeast("list_limit_default", c.list_limit_default, 1),
           AtLeast("list_limit_max", c.list_limit_max, 1),
       }) {
    if (!s.ok()) return s;
  }
  if (c.grpc_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grpc_port=", c.grpc_port, ": must be at most 65535"));
  }
  if (c.list_limit_default > c.list_limit_max) {
    return absl::InvalidArgumentError(absl::StrCat("--list_limit_default=", c.list_limit_default,
                                                   " exceeds --list_limit_max=", c.list_limit_max));
  }
  if (c.probe_target.empty()) c.probe_target = absl::StrCat("127.0.0.1:", c.grpc_port);
  return c;
}

Config LoadConfig(int argc, char** argv) {
  std::vector<std::string> positional = ParseFlagsWithEnv(argc, argv, kUsage);
  auto config = ConfigFromFlags(positional);
  if (!config.ok()) {
    absl::string_view msg = config.status().message();
    ConfigError(std::string_view(msg.data(), msg.size()));
  }
  return *config;
}

}  // namespace gaze::metadata
