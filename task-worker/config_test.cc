// Config defaults (the documented flag defaults) and Validate().
#include "task-worker/config.h"

#include <unistd.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace gaze::worker {
namespace {

TEST(Config, DefaultsAreValid) {
  const Config config;
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);
  EXPECT_EQ(config.metadata_target, "127.0.0.1:9191");
  EXPECT_EQ(config.amqp_url, "amqp://guest:guest@127.0.0.1:5682/");
  EXPECT_EQ(config.task_queue, "gaze.tasks");
  EXPECT_EQ(config.prefetch, 4);
  EXPECT_EQ(config.data_dir, "/var/lib/gaze/images");
  EXPECT_EQ(config.task_lease_seconds, 300);
  EXPECT_EQ(config.log_level, "info");
  EXPECT_EQ(config.image_size_cap, int64_t{1} << 40);
  EXPECT_EQ(config.import_plugins, "decompress,inspect,convert");
  EXPECT_EQ(config.convert_to, "raw");
  EXPECT_EQ(config.web_download.allowed_hosts, "") << "loopback and private sources refused";
}

TEST(Config, WorkDirDefaultsToASiblingOfTheDataDir) {
  Config config;
  EXPECT_EQ(config.EffectiveWorkDir(), "/var/lib/gaze/work");
  config.data_dir = "/srv/gaze/images/";
  EXPECT_EQ(config.EffectiveWorkDir(), "/srv/gaze/work");
  config.work_dir = "/scratch";
  EXPECT_EQ(config.EffectiveWorkDir(), "/scratch");
}

TEST(Config, TheLargestImageSizeCapIsAccepted) {
  Config config;
  config.image_size_cap = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);
}

TEST(Config, DefaultWorkerIdIsHostnameDashPid) {
  const std::string id = Config::DefaultWorkerId();
  const std::string suffix = absl::StrCat("-", getpid());
  ASSERT_GT(id.size(), suffix.size());
  EXPECT_EQ(id.substr(id.size() - suffix.size()), suffix);
}

TEST(Config, RejectsBadValuesNamingTheFlag) {
  struct Case {
    const char* flag;
    void (*mutate)(Config&);
  };
  const Case cases[] = {
      {"--metadata_target", [](Config& c) { c.metadata_target = ""; }},
      {"--amqp_url", [](Config& c) { c.amqp_url = "http://x/"; }},
      {"--amqp_url", [](Config& c) { c.amqp_url = "amqp://h:99999/"; }},
      {"--task_queue", [](Config& c) { c.task_queue = ""; }},
      {"--task_queue", [](Config& c) { c.task_queue = std::string(251, 'q'); }},
      {"--prefetch", [](Config& c) { c.prefetch = 0; }},
      {"--prefetch", [](Config& c) { c.prefetch = 65536; }},
      {"--worker_id", [](Config& c) { c.worker_id = ""; }},
      {"--data_dir", [](Config& c) { c.data_dir = "relative/dir"; }},
      {"--data_dir", [](Config& c) { c.data_dir = ""; }},
      {"--task_lease_seconds", [](Config& c) { c.task_lease_seconds = 0; }},
      {"--task_lease_seconds", [](Config& c) { c.task_lease_seconds = 86401; }},
      {"--log_level", [](Config& c) { c.log_level = "verbose"; }},
      {"--os_hash_algo", [](Config& c) { c.os_hash_algo = "crc32"; }},
      {"--image_size_cap", [](Config& c) { c.image_size_cap = -1; }},
      {"--work_dir", [](Config& c) { c.work_dir = "scratch"; }},
      {"--import_plugins", [](Config& c) { c.import_plugins = "decompress,convert"; }},
      {"--import_plugins", [](Config& c) { c.import_plugins = "inspect,resize"; }},
      {"--convert_to", [](Config& c) { c.convert_to = "vmdk"; }},
      {"--inject_properties", [](Config& c) { c.inject_properties = "os_glance_x=1"; }},
      {"--inject_properties", [](Config& c) { c.inject_properties = "site=ams"; }},
      {"web_download_allowed_ports", [](Config& c) { c.web_download.allowed_ports = "0"; }},
      {"web_download_allowed_hosts", [](Config& c) { c.web_download.allowed_hosts = "127.1"; }},
      {"web_download_allowed_schemes", [](Config& c) { c.web_download.allowed_schemes = "ftp"; }},
      {"--web_download_connect_timeout_seconds",
       [](Config& c) { c.web_download_connect_timeout_seconds = 0; }},
      {"--web_download_stall_timeout_seconds",
       [](Config& c) { c.web_download_stall_timeout_seconds = 0; }},
      {"--web_download_timeout_seconds", [](Config& c) { c.web_download_timeout_seconds = -5; }},
      {"--convert_timeout_seconds", [](Config& c) { c.convert_timeout_seconds = 0; }},
      {"--task_progress_seconds", [](Config& c) { c.task_progress_seconds = 0; }},
      {"--qemu_img_address_space_mib", [](Config& c) { c.qemu_img_address_space_mib = 64; }},
  };
  for (const Case& c : cases) {
    Config config;
    c.mutate(config);
    absl::Status status = Validate(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.flag;
    EXPECT_EQ(status.message().find(c.flag), 0u) << status;
  }
}

TEST(Config, AmqpUrlErrorsDoNotEchoThePassword) {
  Config config;
  config.amqp_url = "amqp://u:topsecret@h:notaport/";
  absl::Status status = Validate(config);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message().find("topsecret"), absl::string_view::npos) << status;
}

}  // namespace
}  // namespace gaze::worker
