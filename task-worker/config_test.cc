// Config defaults (the documented flag defaults) and Validate().
#include "task-worker/config.h"

#include <unistd.h>

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
