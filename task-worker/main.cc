// task-worker: runs Gaze's background tasks. Wiring only: flags -> Config, the file store, the
// gRPC client of metadata-svc, the RabbitMQ consumer, and the termination signals; the logic
// is in worker.h and task_handler.h.
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "services/amqp/amqp.h"
#include "services/amqp/url.h"
#include "services/common/flags.h"
#include "services/common/log.h"
#include "services/common/shutdown.h"
#include "services/store/file_store.h"
#include "task-worker/config.h"
#include "task-worker/grpc_task_service.h"
#include "task-worker/task_handler.h"
#include "task-worker/worker.h"

namespace {
const gaze::worker::Config kDefaults;
}  // namespace

ABSL_FLAG(std::string, metadata_target, kDefaults.metadata_target,
          "host:port of metadata-svc's gRPC API");
ABSL_FLAG(std::string, amqp_url, kDefaults.amqp_url,
          "RabbitMQ URL, amqp://user:password@host:port/vhost");
ABSL_FLAG(std::string, task_queue, kDefaults.task_queue,
          "queue the task messages arrive on; dead letters go to <queue>.dead");
ABSL_FLAG(int, prefetch, kDefaults.prefetch,
          "deliveries RabbitMQ may hand this worker before it acks any (1-65535)");
ABSL_FLAG(std::string, worker_id, kDefaults.worker_id,
          "lease holder name in metadata-svc, unique per process (default <hostname>-<pid>)");
ABSL_FLAG(std::string, data_dir, kDefaults.data_dir, "the file store's directory (absolute)");
ABSL_FLAG(int, task_lease_seconds, kDefaults.task_lease_seconds,
          "how long a claimed task stays this worker's (1-86400)");
ABSL_FLAG(std::string, log_level, kDefaults.log_level, "debug | info | warning | error");

namespace {

// Deadline of each call to metadata-svc. Together with the requeue back-off it bounds the time
// between two reads of the RabbitMQ connection, which must stay within its heartbeat window.
constexpr absl::Duration kCallTimeout = absl::Seconds(5);

}  // namespace

int main(int argc, char** argv) {
  gaze::BlockTerminationSignals();
  std::vector<std::string> args = gaze::ParseFlagsWithEnv(
      argc, argv,
      "task-worker: consumes Gaze task messages from RabbitMQ and runs them through "
      "metadata-svc's TaskService.");
  if (!args.empty()) gaze::ConfigError("unexpected arguments: " + absl::StrJoin(args, " "));

  gaze::worker::Config config;
  config.metadata_target = absl::GetFlag(FLAGS_metadata_target);
  config.amqp_url = absl::GetFlag(FLAGS_amqp_url);
  config.task_queue = absl::GetFlag(FLAGS_task_queue);
  config.prefetch = absl::GetFlag(FLAGS_prefetch);
  config.worker_id = absl::GetFlag(FLAGS_worker_id);
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  config.task_lease_seconds = absl::GetFlag(FLAGS_task_lease_seconds);
  config.log_level = absl::GetFlag(FLAGS_log_level);
  if (absl::Status valid = gaze::worker::Validate(config); !valid.ok()) {
    gaze::ConfigError(std::string(valid.message()));
  }
  gaze::log::Level level = gaze::log::Level::kInfo;
  gaze::log::ParseLevel(config.log_level, &level);
  gaze::log::Init("task-worker", level);

  auto store = gaze::store::FileStore::InDirectory(config.data_dir);
  if (!store.ok()) {
    gaze::log::Error("cannot open the file store").Field("error", store.status().ToString());
    return 1;
  }
  std::unique_ptr<gaze::worker::TaskService> tasks =
      gaze::worker::NewGrpcTaskService(config.metadata_target, kCallTimeout);
  gaze::worker::TaskHandler handler(
      {.worker_id = config.worker_id, .lease_seconds = config.task_lease_seconds}, *tasks, **store);

  gaze::amqp::ConnectionOptions amqp_options;
  amqp_options.url = config.amqp_url;
  amqp_options.queue = config.task_queue;
  amqp_options.connection_name = "task-worker " + config.worker_id;
  gaze::worker::Worker worker(
      gaze::worker::WorkerOptions{},
      [&] { return gaze::amqp::Consumer::Connect(amqp_options, config.prefetch); }, handler);

  std::thread signals([&worker] {
    const int sig = gaze::WaitForTerminationSignal();
    gaze::log::Info("termination signal; finishing the current task").Field("signal", sig);
    worker.Stop();
  });
  gaze::log::Info("starting")
      .Field("worker_id", config.worker_id)
      .Field("metadata_target", config.metadata_target)
      .Field("amqp_url", gaze::amqp::ParseAmqpUrl(config.amqp_url)->Redacted())
      .Field("task_queue", config.task_queue)
      .Field("prefetch", config.prefetch)
      .Field("data_dir", config.data_dir);
  worker.Run();
  signals.join();
  gaze::log::Info("stopped");
  return 0;
}
