// api-gateway: the stateless HTTP front end of Gaze. Wiring only: configuration, adapters,
// server start, and the drain on SIGTERM.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "api-gateway/api.h"
#include "api-gateway/http_server.h"
#include "api-gateway/image_data.h"
#include "api-gateway/import_json.h"
#include "api-gateway/metadata_client.h"
#include "services/auth/policy.h"
#include "services/auth/static_token_authenticator.h"
#include "services/common/flags.h"
#include "services/common/log.h"
#include "services/common/process_tuning.h"
#include "services/common/shutdown.h"
#include "services/common/worker_pool.h"
#include "services/keystone/keystone_authenticator.h"
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
ABSL_FLAG(std::string, trusted_proxies, "",
          "Comma-separated IP addresses or CIDR networks of reverse proxies whose "
          "X-Forwarded-Proto / X-Forwarded-Host headers set the URL in links (default: none).");
ABSL_FLAG(std::string, auth, "static",
          "How callers are authenticated: 'static' (a token file) or 'keystone'.");
ABSL_FLAG(std::string, token_file, "",
          "With --auth=static: the static token file (JSON), re-read when it changes.");
ABSL_FLAG(std::string, keystone_url, "", "With --auth=keystone: Keystone's URL.");
ABSL_FLAG(std::string, keystone_user, "", "Gaze's service user in Keystone.");
ABSL_FLAG(std::string, keystone_password, "", "The service user's password.");
ABSL_FLAG(std::string, keystone_project, "", "The service user's project.");
ABSL_FLAG(std::string, keystone_user_domain, "Default", "The service user's domain.");
ABSL_FLAG(std::string, keystone_project_domain, "Default", "The service project's domain.");
ABSL_FLAG(std::string, service_token_roles, "service",
          "Comma-separated roles of which an X-Service-Token must hold one.");
ABSL_FLAG(int32_t, keystone_timeout_ms, 5000, "Deadline of each call to Keystone.");
ABSL_FLAG(int32_t, token_cache_seconds, 300,
          "How long a validated token is trusted before Keystone is asked again (never past "
          "its expiry).");
ABSL_FLAG(int32_t, token_cache_size, 10000, "Validated tokens kept in memory.");
ABSL_FLAG(std::string, policy_file, "",
          "Policy file overriding Glance's default rules (JSON, or YAML as oslo.policy writes "
          "it); default: the built-in rules only.");
ABSL_FLAG(int32_t, io_threads, 2, "HTTP I/O threads.");
ABSL_FLAG(int64_t, image_size_cap, int64_t{1} << 40, "Largest image accepted, in bytes.");
ABSL_FLAG(int32_t, upload_lease_seconds, 60,
          "Upload lease: an upload whose gateway stops renewing it for this long is undone.");
ABSL_FLAG(std::string, os_hash_algo, "sha512", "Multihash algorithm for os_hash_value.");
ABSL_FLAG(int64_t, max_json_body_bytes, 1 << 20, "Largest JSON request body accepted.");
ABSL_FLAG(std::string, enabled_import_methods, "glance-direct,web-download",
          "Comma-separated import methods offered (glance-direct, web-download; empty: none). "
          "PUT /stage exists only with glance-direct.");
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
  auto import_methods = ParseImportMethods(absl::GetFlag(FLAGS_enabled_import_methods));
  if (!import_methods.ok()) ConfigError(std::string(import_methods.status().message()));

  const std::string auth_mode = absl::GetFlag(FLAGS_auth);
  if (auth_mode != "static" && auth_mode != "keystone") {
    ConfigError("--auth must be 'static' or 'keystone'");
  }
  if (auth_mode == "static" && absl::GetFlag(FLAGS_token_file).empty()) {
    ConfigError("--token_file is required with --auth=static");
  }
  if (auth_mode == "keystone") {
    for (auto [name, value] : {std::pair{"--keystone_url", absl::GetFlag(FLAGS_keystone_url)},
                               {"--keystone_user", absl::GetFlag(FLAGS_keystone_user)},
                               {"--keystone_password", absl::GetFlag(FLAGS_keystone_password)},
                               {"--keystone_project", absl::GetFlag(FLAGS_keystone_project)}}) {
      if (value.empty()) ConfigError(std::string(name) + " is required with --auth=keystone");
    }
  }
  for (auto [name, value] :
       {std::pair{"--keystone_timeout_ms", absl::GetFlag(FLAGS_keystone_timeout_ms)},
        {"--token_cache_seconds", absl::GetFlag(FLAGS_token_cache_seconds)}}) {
    if (value <= 0) ConfigError(std::string(name) + " must be positive");
  }
  if (absl::GetFlag(FLAGS_token_cache_size) < 0) ConfigError("--token_cache_size must be >= 0");
  std::vector<std::string> trusted_proxies =
      absl::StrSplit(absl::GetFlag(FLAGS_trusted_proxies), ',', absl::SkipWhitespace());
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
  std::string public_url = absl::GetFlag(FLAGS_public_url);
  if (public_url.empty()) {
    public_url = "http://" + server_options.listen_address + ":" + std::to_string(*bound);
  }
  while (!public_url.empty() && public_url.back() == '/') public_url.pop_back();
  auto url = PublicUrl::Create(public_url, trusted_proxies);
  if (!url.ok()) ConfigError("--trusted_proxies: " + std::string(url.status().message()));

  std::unique_ptr<auth::Authenticator> authenticator;
  std::string www_authenticate_uri = public_url;
  if (auth_mode == "static") {
    auto tokens = auth::StaticTokenAuthenticator::Load(absl::GetFlag(FLAGS_token_file));
    if (!tokens.ok()) ConfigError(std::string(tokens.status().message()));
    authenticator = *std::move(tokens);
  } else {
    keystone::KeystoneOptions ks;
    ks.url = absl::GetFlag(FLAGS_keystone_url);
    ks.user = absl::GetFlag(FLAGS_keystone_user);
    ks.password = absl::GetFlag(FLAGS_keystone_password);
    ks.project = absl::GetFlag(FLAGS_keystone_project);
    ks.user_domain = absl::GetFlag(FLAGS_keystone_user_domain);
    ks.project_domain = absl::GetFlag(FLAGS_keystone_project_domain);
    ks.service_token_roles =
        absl::StrSplit(absl::GetFlag(FLAGS_service_token_roles), ',', absl::SkipWhitespace());
    ks.timeout = absl::Milliseconds(absl::GetFlag(FLAGS_keystone_timeout_ms));
    ks.cache.ttl = absl::Seconds(absl::GetFlag(FLAGS_token_cache_seconds));
    ks.cache.capacity = static_cast<size_t>(absl::GetFlag(FLAGS_token_cache_size));
    auto keystone = keystone::KeystoneAuthenticator::Create(server.executor(), std::move(ks));
    if (!keystone.ok()) ConfigError(std::string(keystone.status().message()));
    authenticator = *std::move(keystone);
    www_authenticate_uri = absl::GetFlag(FLAGS_keystone_url);
  }

  ApiOptions api_options{
      .public_url = *std::move(url),
      .www_authenticate_uri = www_authenticate_uri,
      .max_json_body = static_cast<size_t>(absl::GetFlag(FLAGS_max_json_body_bytes)),
      .import_methods = *std::move(import_methods)};
  GlanceApi api(api_options, metadata, data, *authenticator, policy);
  server.Serve(api);
  log::Info("listening")
      .Field("address", server_options.listen_address)
      .Field("port", int64_t{*bound});
  log::Info("ready")
      .Field("metadata_target", absl::GetFlag(FLAGS_metadata_target))
      .Field("data_dir", absl::GetFlag(FLAGS_data_dir))
      .Field("auth", auth_mode)
      .Field("public_url", public_url)
      .Field("policy_file", absl::GetFlag(FLAGS_policy_file))
      .Field("import_methods", absl::GetFlag(FLAGS_enabled_import_methods));
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
  gaze::TuneProcess();
  gaze::BlockTerminationSignals();
  gaze::ParseFlagsWithEnv(argc, argv, "api-gateway: Gaze's Glance-compatible HTTP API");
  return gaze::gateway::Run();
}
