// api-gateway: the stateless HTTP front end of Gaze. Wiring only: configuration, adapters,
// server start, and the drain on SIGTERM.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "api-gateway/api.h"
#include "api-gateway/http_server.h"
#include "api-gateway/image_data.h"
#include "api-gateway/metadata_client.h"
#include "services/auth/policy.h"
#include "services/auth/static_tokens.h"
#include "services/common/flags.h"
#include "services/common/log.h"
#include "services/common/shutdown.h"
#include "services/common/worker_pool.h"
#include "services/store/file_store.h"
#include "services/store/image_hasher.h"

ABSL_FLAG(std::string, api_listen, "127.0.0.1", "Address the HTTP API listens on.");
ABSL_FLAG(int32_t, api_port, 9292, "HTTP API port (0 = any free port).");
ABSL_FLAG(std::string, public_url, "",
          "URL clients reach the API at (default http://<api_listen>:<port>); used in links, "
          "Location headers and the version document.");
ABSL_FLAG(std::string, metadata_target, "127.0.0.1:9191", "metadata-svc gRPC address.");
ABSL_FLAG(int32_t, metadata_timeout_ms, 10000, "Deadline of each call to metadata-svc.");
ABSL_FLAG(std::string, data_dir, "/var/lib/gaze/images", "File store directory (absolute).");
ABSL_FLAG(std::string, token_file, "", "Static token file (JSON), required.");
ABSL_FLAG(std::string, policy_file, "",
          "Policy file overriding Glance's default rules (JSON, or YAML as oslo.policy writes "
          "it); default: the built-in rules only.");
ABSL_FLAG(int32_t, io_threads, 2, "HTTP I/O threads.");
ABSL_FLAG(int64_t, image_size_cap, int64_t{1} << 40, "Largest image accepted, in bytes.");
ABSL_FLAG(int32_t, upload_lease_seconds, 60,
          "Upload lease: an upload whose gateway stops renewing it for this long is undone.");
ABSL_FLAG(std::string, os_hash_algo, "sha512", "Multihash algorithm for os_hash_value.");
ABSL_FLAG(int64_t, max_json_body_bytes, 1 << 20, "Largest JSON request body accepted.");
ABSL_FLAG(int32_t, idle_timeout_seconds, 120, "Close connections silent for this long.");
ABSL_FLAG(int32_t, drain_seconds, 30, "On SIGTERM, wait this long for requests in flight.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");

namespace gaze::gateway {
namespace {

int Run() {
  log::Level level;
  if (!log::ParseLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    ConfigError("--log_level must be one of debug, info, warning, error");
  }
  log::Init("api-gateway", level);
  int32_t port = absl::GetFlag(FLAGS_api_port);
  if (port < 0 || port > 65535) ConfigError("--api_port must be between 0 and 65535");
  if (absl::GetFlag(FLAGS_token_file).empty()) ConfigError("--token_file is required");
  if (absl::GetFlag(FLAGS_io_threads) < 1) ConfigError("--io_threads must be at least 1");
  if (absl::GetFlag(FLAGS_image_size_cap) < 0) ConfigError("--image_size_cap must be >= 0");
  if (absl::GetFlag(FLAGS_upload_lease_seconds) < 3) {
    ConfigError("--upload_lease_seconds must be at least 3");
  }
  for (auto [name, value] :
       {std::pair{"--metadata_timeout_ms", absl::GetFlag(FLAGS_metadata_timeout_ms)},
        {"--idle_timeout_seconds", absl::GetFlag(FLAGS_idle_timeout_seconds)},
        {"--drain_seconds", absl::GetFlag(FLAGS_drain_seconds)}}) {
    if (value <= 0) ConfigError(std::string(name) + " must be positive");
  }
  if (absl::GetFlag(FLAGS_max_json_body_bytes) <= 0) {
    ConfigError("--max_json_body_bytes must be positive");
  }

  auto tokens = auth::StaticTokens::LoadFile(absl::GetFlag(FLAGS_token_file));
  if (!tokens.ok()) ConfigError(std::string(tokens.status().message()));
  auth::Policy policy;
  if (!absl::GetFlag(FLAGS_policy_file).empty()) {
    auto loaded = auth::Policy::FromFile(absl::GetFlag(FLAGS_policy_file));
    if (!loaded.ok()) ConfigError("--policy_file: " + std::string(loaded.status().message()));
    policy = *std::move(loaded);
  }
  auto store = store::FileStore::InDirectory(absl::GetFlag(FLAGS_data_dir));
  if (!store.ok()) ConfigError("--data_dir: " + std::string(store.status().message()));

  auto channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_metadata_target), grpc::InsecureChannelCredentials());
  MetadataClient metadata(channel, absl::Milliseconds(absl::GetFlag(FLAGS_metadata_timeout_ms)));

  char host[256] = {};
  gethostname(host, sizeof host - 1);
  DataOptions data_options;
  data_options.image_size_cap = static_cast<uint64_t>(absl::GetFlag(FLAGS_image_size_cap));
  data_options.upload_lease = absl::Seconds(absl::GetFlag(FLAGS_upload_lease_seconds));
  data_options.os_hash_algo = absl::GetFlag(FLAGS_os_hash_algo);
  data_options.holder = std::string(host) + "-" + std::to_string(getpid());
  {
    auto probe = store::ImageHasher::Create(data_options.os_hash_algo);
    if (!probe.ok()) ConfigError("--os_hash_algo: " + std::string(probe.status().message()));
  }
  WorkerPool hash_pool(absl::GetFlag(FLAGS_io_threads));
  ImageData data(data_options, metadata, **store, hash_pool);

  ServerOptions server_options;
  server_options.listen_address = absl::GetFlag(FLAGS_api_listen);
  server_options.port = static_cast<uint16_t>(port);
  server_options.io_threads = absl::GetFlag(FLAGS_io_threads);
  server_options.idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_idle_timeout_seconds));

  HttpServer server(server_options);
  auto bound = server.Bind();
  if (!bound.ok()) {
    log::Error("cannot start").Field("error", std::string(bound.status().message()));
    return 1;
  }
  ApiOptions api_options;
  api_options.max_json_body = static_cast<size_t>(absl::GetFlag(FLAGS_max_json_body_bytes));
  api_options.public_url = absl::GetFlag(FLAGS_public_url);
  if (api_options.public_url.empty()) {
    api_options.public_url =
        "http://" + server_options.listen_address + ":" + std::to_string(*bound);
  }
  while (!api_options.public_url.empty() && api_options.public_url.back() == '/') {
    api_options.public_url.pop_back();
  }
  GlanceApi api(api_options, metadata, data, **tokens, policy);
  server.Serve(api);
  log::Info("listening")
      .Field("address", server_options.listen_address)
      .Field("port", int64_t{*bound});
  log::Info("ready")
      .Field("metadata_target", absl::GetFlag(FLAGS_metadata_target))
      .Field("data_dir", absl::GetFlag(FLAGS_data_dir))
      .Field("tokens", static_cast<int64_t>((*tokens)->size()))
      .Field("policy_file", absl::GetFlag(FLAGS_policy_file));
  int sig = WaitForTerminationSignal();
  log::Info("draining").Field("signal", sig);
  api.StartDraining();
  server.Drain(absl::Seconds(absl::GetFlag(FLAGS_drain_seconds)));
  log::Info("stopped");
  return 0;
}

}  // namespace
}  // namespace gaze::gateway

int main(int argc, char** argv) {
  gaze::BlockTerminationSignals();
  gaze::ParseFlagsWithEnv(argc, argv, "api-gateway: Gaze's Glance-compatible HTTP API");
  return gaze::gateway::Run();
}
