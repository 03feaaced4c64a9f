// metadata-svc: wiring only. Reads the config, migrates the schema, builds the pool,
// repositories, gRPC server, outbox relay, upload sweeper and task re-drive, and drains on
// SIGTERM; or runs one of the operator commands (migrate, probe, restore).
#include <algorithm>
#include <cstdlib>

#include "absl/time/clock.h"
#include "metadata-svc/config.h"
#include "metadata-svc/enums.h"
#include "metadata-svc/health_probe.h"
#include "metadata-svc/migrations.h"
#include "metadata-svc/migrator.h"
#include "metadata-svc/outbox_relay.h"
#include "metadata-svc/pg_image_repository.h"
#include "metadata-svc/pg_pool.h"
#include "metadata-svc/pg_statements.h"
#include "metadata-svc/pg_task_repository.h"
#include "metadata-svc/restore_client.h"
#include "metadata-svc/server.h"
#include "metadata-svc/task_redriver.h"
#include "metadata-svc/upload_sweeper.h"
#include "services/amqp/amqp.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/process_tuning.h"
#include "services/common/shutdown.h"

namespace gaze::metadata {
namespace {

std::string Str(absl::string_view s) { return std::string(s.data(), s.size()); }

// Applies the embedded migrations, retrying with back-off while PostgreSQL is unreachable
// (it may still be starting) for up to --pg_connect_timeout_seconds.
bool Migrate(const Config& config) {
  auto migrations = ParseMigrations(EmbeddedMigrationFiles());
  if (!migrations.ok()) {
    log::Error("embedded migrations are invalid")
        .Field("error", Str(migrations.status().message()));
    return false;
  }
  absl::Time deadline = absl::Now() + absl::Seconds(config.pg_connect_timeout_seconds);
  absl::Duration backoff = absl::Milliseconds(250);
  for (;;) {
    absl::StatusOr<int> applied = ApplyMigrations(config.pg_dsn, *migrations);
    if (applied.ok()) {
      log::Info("database schema up to date")
          .Field("applied", *applied)
          .Field("version", migrations->empty() ? 0 : migrations->back().version);
      return true;
    }
    absl::Duration left = deadline - absl::Now();
    if (applied.status().code() != absl::StatusCode::kUnavailable || left <= absl::ZeroDuration()) {
      log::Error("cannot migrate the database; giving up")
          .Field("error", Str(applied.status().message()))
          .Field("timeout_seconds", config.pg_connect_timeout_seconds);
      return false;
    }
    log::Warning("database unreachable; retrying")
        .Field("error", Str(applied.status().message()))
        .Field("retry_in_ms", absl::ToInt64Milliseconds(std::min(backoff, left)));
    absl::SleepFor(std::min(backoff, left));
    backoff = std::min(backoff * 2, absl::Seconds(4));
  }
}

int Serve(const Config& config) {
  if (!Migrate(config)) return 1;

  PgPool pool({.dsn = config.pg_dsn,
               .size = config.pg_pool_size,
               .acquire_timeout = absl::Milliseconds(config.pg_acquire_timeout_ms)},
              stmt::PrepareStatements);
  const ListLimits limits{.default_limit = config.list_limit_default,
                          .max_limit = config.list_limit_max};
  const absl::Duration task_time_to_live = absl::Hours(config.task_time_to_live_hours);
  PgImageRepository images(pool, limits, config.image_limits, config.quotas,
                           {.delayed_delete = absl::Seconds(config.delayed_delete_seconds),
                            .task_time_to_live = task_time_to_live});
  if (!config.quota_file.empty()) {
    log::Info("per-project quotas on").Field("file", config.quota_file);
  }
  if (config.delayed_delete_seconds > 0) {
    log::Info("delayed delete on").Field("delay_seconds", config.delayed_delete_seconds);
  }
  PgTaskRepository tasks(
      pool, {.max_attempts = config.task_max_attempts, .time_to_live = task_time_to_live}, limits,
      config.quotas);

  auto server = MetadataServer::Start(
      {.listen_address = config.grpc_listen, .port = config.grpc_port}, images, tasks);
  if (!server.ok()) {
    log::Error("cannot start the gRPC server").Field("error", Str(server.status().message()));
    return 1;
  }
  log::Info("listening").Field("address", config.grpc_listen).Field("port", (*server)->port());

  OutboxRelay relay({.dsn = config.pg_dsn, .batch = config.relay_batch}, [&config] {
    amqp::ConnectionOptions options;
    options.url = config.amqp_url;
    options.queue = config.task_queue;
    options.connection_name = "metadata-svc outbox relay";
    return amqp::Publisher::Connect(options);
  });
  relay.Start();
  UploadSweeper sweeper(images, absl::Milliseconds(config.sweep_interval_ms));
  sweeper.Start();
  TaskRedriver redriver(tasks, {.interval = absl::Milliseconds(config.task_redrive_interval_ms),
                                .redrive_after = absl::Seconds(config.task_redrive_after_seconds)});
  redriver.Start();

  (*server)->SetServing(true);
  log::Info("ready");

  int signal = WaitForTerminationSignal();
  log::Info("draining").Field("signal", signal);
  (*server)->Shutdown(absl::Seconds(10));
  redriver.Stop();
  sweeper.Stop();
  relay.Stop();
  log::Info("stopped");
  return 0;
}

int Restore(const Config& config) {
  const std::string request_id = NewRequestId();
  auto image =
      RestoreImageAt(config.probe_target, config.restore_image_id, request_id, absl::Seconds(30));
  if (!image.ok()) {
    log::Error("cannot restore the image")
        .RequestId(request_id)
        .Field("target", config.probe_target)
        .Field("image_id", config.restore_image_id)
        .Field("error", image.status().ToString());
    return 1;
  }
  log::Info("image restored")
      .RequestId(request_id)
      .Field("image_id", image->id())
      .Field("status", ImageStatusName(image->status()));
  return 0;
}

int Probe(const Config& config) {
  absl::Status s = ProbeHealth(config.probe_target, absl::Seconds(5));
  if (!s.ok()) {
    log::Warning("probe failed").Field("target", config.probe_target).Field("error", s.ToString());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace gaze::metadata

int main(int argc, char** argv) {
  gaze::TuneProcess();
  gaze::BlockTerminationSignals();
  gaze::metadata::Config config = gaze::metadata::LoadConfig(argc, argv);
  gaze::log::Init("metadata-svc", config.log_level);
  // Without it libpq waits for the kernel's TCP timeout when the database host is black-holed,
  // which would defeat the start-up retry deadline. An operator's own value wins.
  setenv("PGCONNECT_TIMEOUT", "5", /*overwrite=*/0);
  switch (config.command) {
    case gaze::metadata::Command::kProbe:
      return gaze::metadata::Probe(config);
    case gaze::metadata::Command::kMigrate:
      return gaze::metadata::Migrate(config) ? 0 : 1;
    case gaze::metadata::Command::kRestore:
      return gaze::metadata::Restore(config);
    case gaze::metadata::Command::kServe:
      return gaze::metadata::Serve(config);
  }
  return 1;
}
