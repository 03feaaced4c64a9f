// task-worker: runs Gaze's background tasks. Wiring only: flags -> Config, the file store, the
// gRPC client of metadata-svc, the import machinery (web fetcher, qemu-img, work directory),
// the RabbitMQ consumer, and the termination signals; the logic is in worker.h,
// task_handler.h and importer.h.
#include <optional>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "services/amqp/amqp.h"
#include "services/amqp/url.h"
#include "services/common/flags.h"
#include "services/common/log.h"
#include "services/common/process_tuning.h"
#include "services/common/shutdown.h"
#include "services/common/worker_pool.h"
#include "services/fetch/fetcher.h"
#include "services/store/file_store.h"
#include "task-worker/config.h"
#include "task-worker/grpc_task_service.h"
#include "task-worker/import_plugins.h"
#include "task-worker/importer.h"
#include "task-worker/qemu_img.h"
#include "task-worker/task_handler.h"
#include "task-worker/web_source.h"
#include "task-worker/work_dir.h"
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
ABSL_FLAG(std::string, os_hash_algo, kDefaults.os_hash_algo,
          "multihash algorithm of imported images' os_hash_value (an OpenSSL digest name)");
ABSL_FLAG(int64_t, image_size_cap, kDefaults.image_size_cap,
          "largest image in bytes, downloaded, decompressed or converted");
ABSL_FLAG(std::string, work_dir, kDefaults.work_dir,
          "local scratch space for imports, absolute (default: \"work\" beside --data_dir)");
ABSL_FLAG(std::string, import_plugins, kDefaults.import_plugins,
          "import plugins in pipeline order: decompress, inspect (required), convert, inject");
ABSL_FLAG(std::string, convert_to, kDefaults.convert_to,
          "format the convert plugin writes: raw or qcow2");
ABSL_FLAG(std::string, inject_properties, kDefaults.inject_properties,
          "key=value,... properties the inject plugin sets on imported images");
ABSL_FLAG(std::string, web_download_allowed_schemes, kDefaults.web_download.allowed_schemes,
          "web-download: schemes allowed (comma-separated); overrides the disallowed list");
ABSL_FLAG(std::string, web_download_disallowed_schemes, kDefaults.web_download.disallowed_schemes,
          "web-download: schemes refused");
ABSL_FLAG(std::string, web_download_allowed_hosts, kDefaults.web_download.allowed_hosts,
          "web-download: hosts allowed (names or IP literals); the only way to reach loopback, "
          "link-local or private addresses; overrides the disallowed list");
ABSL_FLAG(std::string, web_download_disallowed_hosts, kDefaults.web_download.disallowed_hosts,
          "web-download: hosts refused");
ABSL_FLAG(std::string, web_download_allowed_ports, kDefaults.web_download.allowed_ports,
          "web-download: ports allowed; overrides the disallowed list");
ABSL_FLAG(std::string, web_download_disallowed_ports, kDefaults.web_download.disallowed_ports,
          "web-download: ports refused");
ABSL_FLAG(int, web_download_connect_timeout_seconds, kDefaults.web_download_connect_timeout_seconds,
          "web-download: connect timeout");
ABSL_FLAG(int, web_download_stall_timeout_seconds, kDefaults.web_download_stall_timeout_seconds,
          "web-download: a source that sends nothing for this long fails");
ABSL_FLAG(int, web_download_timeout_seconds, kDefaults.web_download_timeout_seconds,
          "web-download: timeout of the whole download");
ABSL_FLAG(int, convert_timeout_seconds, kDefaults.convert_timeout_seconds,
          "qemu-img convert is killed after this long (also its CPU time limit)");
ABSL_FLAG(int, qemu_img_address_space_mib, kDefaults.qemu_img_address_space_mib,
          "address space limit of qemu-img convert, in MiB (qemu-img info gets 1024)");
ABSL_FLAG(int, task_progress_seconds, kDefaults.task_progress_seconds,
          "how often a running import reports progress and renews its lease");

namespace {

// Deadline of each call to metadata-svc. The calls are made on the worker's task thread, so
// they do not hold up the RabbitMQ connection, which the consumer thread keeps servicing.
constexpr absl::Duration kCallTimeout = absl::Seconds(5);

}  // namespace

int main(int argc, char** argv) {
  gaze::TuneProcess();
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
  config.os_hash_algo = absl::GetFlag(FLAGS_os_hash_algo);
  config.image_size_cap = absl::GetFlag(FLAGS_image_size_cap);
  config.work_dir = absl::GetFlag(FLAGS_work_dir);
  config.import_plugins = absl::GetFlag(FLAGS_import_plugins);
  config.convert_to = absl::GetFlag(FLAGS_convert_to);
  config.inject_properties = absl::GetFlag(FLAGS_inject_properties);
  config.web_download.allowed_schemes = absl::GetFlag(FLAGS_web_download_allowed_schemes);
  config.web_download.disallowed_schemes = absl::GetFlag(FLAGS_web_download_disallowed_schemes);
  config.web_download.allowed_hosts = absl::GetFlag(FLAGS_web_download_allowed_hosts);
  config.web_download.disallowed_hosts = absl::GetFlag(FLAGS_web_download_disallowed_hosts);
  config.web_download.allowed_ports = absl::GetFlag(FLAGS_web_download_allowed_ports);
  config.web_download.disallowed_ports = absl::GetFlag(FLAGS_web_download_disallowed_ports);
  config.web_download_connect_timeout_seconds =
      absl::GetFlag(FLAGS_web_download_connect_timeout_seconds);
  config.web_download_stall_timeout_seconds =
      absl::GetFlag(FLAGS_web_download_stall_timeout_seconds);
  config.web_download_timeout_seconds = absl::GetFlag(FLAGS_web_download_timeout_seconds);
  config.convert_timeout_seconds = absl::GetFlag(FLAGS_convert_timeout_seconds);
  config.qemu_img_address_space_mib = absl::GetFlag(FLAGS_qemu_img_address_space_mib);
  config.task_progress_seconds = absl::GetFlag(FLAGS_task_progress_seconds);
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
  // Validate() accepted all of these, so only the environment can fail them now.
  const gaze::worker::ImportPlugins plugins =
      *gaze::worker::ParseImportPlugins(config.import_plugins);
  std::optional<gaze::worker::QemuImg> qemu_img;
  if (plugins.Has(gaze::worker::ImportPlugin::kConvert)) {
    gaze::worker::QemuImgOptions qemu_options;
    qemu_options.convert_address_space_bytes = uint64_t(config.qemu_img_address_space_mib) << 20;
    qemu_options.convert_timeout = absl::Seconds(config.convert_timeout_seconds);
    auto found = gaze::worker::QemuImg::Create(qemu_options);
    if (!found.ok()) {
      gaze::ConfigError("the convert import plugin needs qemu-img (Debian: qemu-utils): " +
                        std::string(found.status().message()));
    }
    qemu_img = *std::move(found);
  }
  auto work_dir = gaze::worker::WorkDir::Open(config.EffectiveWorkDir(), config.worker_id);
  if (!work_dir.ok()) {
    gaze::log::Error("cannot open the work directory").Field("error", work_dir.status().ToString());
    return 1;
  }
  gaze::fetch::FetchOptions fetch_options;
  fetch_options.max_bytes = static_cast<uint64_t>(config.image_size_cap);
  fetch_options.connect_timeout = absl::Seconds(config.web_download_connect_timeout_seconds);
  fetch_options.low_speed_time = absl::Seconds(config.web_download_stall_timeout_seconds);
  fetch_options.total_timeout = absl::Seconds(config.web_download_timeout_seconds);
  const gaze::fetch::Fetcher fetcher(*gaze::fetch::UriPolicy::Create(config.web_download),
                                     fetch_options);
  std::unique_ptr<gaze::worker::WebSource> web = gaze::worker::NewHttpWebSource(fetcher);
  // md5 beside the os_hash while an import is stored; one task runs at a time.
  gaze::WorkerPool hash_pool(1);

  std::unique_ptr<gaze::worker::TaskService> tasks =
      gaze::worker::NewGrpcTaskService(config.metadata_target, kCallTimeout);
  gaze::worker::Importer importer(
      {.worker_id = config.worker_id,
       .lease_seconds = config.task_lease_seconds,
       .progress_interval = absl::Seconds(config.task_progress_seconds),
       .plugins = plugins,
       .convert_to = config.convert_to,
       .inject_properties = *gaze::worker::ParseInjectProperties(config.inject_properties),
       .image_size_cap = static_cast<uint64_t>(config.image_size_cap),
       .os_hash_algo = config.os_hash_algo},
      *tasks, **store, *web, qemu_img ? &*qemu_img : nullptr, *work_dir, &hash_pool);
  gaze::worker::TaskHandler handler(
      {.worker_id = config.worker_id, .lease_seconds = config.task_lease_seconds}, *tasks, **store,
      importer);

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
      .Field("data_dir", config.data_dir)
      .Field("work_dir", work_dir->path())
      .Field("import_plugins", config.import_plugins)
      .Field("convert_to", config.convert_to)
      .Field("qemu_img", qemu_img ? qemu_img->program() : "");
  worker.Run();
  signals.join();
  gaze::log::Info("stopped");
  return 0;
}
