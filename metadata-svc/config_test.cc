#include "metadata-svc/config.h"

#include <cstdio>
#include <fstream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "gtest/gtest.h"

ABSL_DECLARE_FLAG(int, pg_pool_size);
ABSL_DECLARE_FLAG(int, grpc_port);
ABSL_DECLARE_FLAG(std::string, log_level);
ABSL_DECLARE_FLAG(int, list_limit_default);
ABSL_DECLARE_FLAG(int, task_redrive_interval_ms);
ABSL_DECLARE_FLAG(int, task_redrive_after_seconds);
ABSL_DECLARE_FLAG(int, image_property_quota);
ABSL_DECLARE_FLAG(int, image_member_quota);
ABSL_DECLARE_FLAG(std::string, quota_file);

namespace gaze::metadata {
namespace {

class ConfigTest : public ::testing::Test {
  absl::FlagSaver saver_;  // every test starts from the defaults
};

TEST_F(ConfigTest, DefaultsAreValid) {
  auto c = ConfigFromFlags({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->command, Command::kServe);
  EXPECT_EQ(c->grpc_port, 9191);
  EXPECT_EQ(c->pg_pool_size, 8);
  EXPECT_EQ(c->probe_target, "127.0.0.1:9191");
  EXPECT_EQ(c->log_level, log::Level::kInfo);
  EXPECT_EQ(c->task_redrive_interval_ms, 10000);
  EXPECT_EQ(c->task_redrive_after_seconds, 60);
}

TEST_F(ConfigTest, Commands) {
  EXPECT_EQ(ConfigFromFlags({"migrate"})->command, Command::kMigrate);
  EXPECT_EQ(ConfigFromFlags({"probe"})->command, Command::kProbe);
  EXPECT_FALSE(ConfigFromFlags({"dance"}).ok());
  EXPECT_FALSE(ConfigFromFlags({"serve", "migrate"}).ok());
}

TEST_F(ConfigTest, RejectsInvalidValues) {
  absl::SetFlag(&FLAGS_pg_pool_size, 0);
  auto c = ConfigFromFlags({});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "--pg_pool_size=0: must be at least 1");
  absl::SetFlag(&FLAGS_pg_pool_size, 8);

  absl::SetFlag(&FLAGS_log_level, "loud");
  EXPECT_FALSE(ConfigFromFlags({}).ok());
  absl::SetFlag(&FLAGS_log_level, "debug");
  EXPECT_TRUE(ConfigFromFlags({}).ok());

  absl::SetFlag(&FLAGS_grpc_port, 70000);
  EXPECT_FALSE(ConfigFromFlags({}).ok());
  absl::SetFlag(&FLAGS_grpc_port, -1);
  EXPECT_FALSE(ConfigFromFlags({}).ok());
  absl::SetFlag(&FLAGS_grpc_port, 0);
  EXPECT_EQ(ConfigFromFlags({})->probe_target, "127.0.0.1:0");

  absl::SetFlag(&FLAGS_list_limit_default, 5000);
  EXPECT_FALSE(ConfigFromFlags({}).ok());
}

TEST_F(ConfigTest, TaskRedriveNeedsPositiveTimes) {
  absl::SetFlag(&FLAGS_task_redrive_interval_ms, 0);
  EXPECT_EQ(ConfigFromFlags({}).status().message(),
            "--task_redrive_interval_ms=0: must be at least 1");
  absl::SetFlag(&FLAGS_task_redrive_interval_ms, 500);
  absl::SetFlag(&FLAGS_task_redrive_after_seconds, -1);
  EXPECT_EQ(ConfigFromFlags({}).status().message(),
            "--task_redrive_after_seconds=-1: must be at least 1");
  absl::SetFlag(&FLAGS_task_redrive_after_seconds, 5);
  auto c = ConfigFromFlags({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->task_redrive_interval_ms, 500);
  EXPECT_EQ(c->task_redrive_after_seconds, 5);
}

TEST_F(ConfigTest, PerImageLimitsDefaultTo128AndNegativeIsUnlimited) {
  auto c = ConfigFromFlags({});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->image_limits.properties, 128);
  EXPECT_EQ(c->image_limits.tags, 128);
  EXPECT_EQ(c->image_limits.members, 128);
  EXPECT_FALSE(c->quotas.Limit("p1", QuotaResource::kImageCountTotal));
  absl::SetFlag(&FLAGS_image_property_quota, -1);
  absl::SetFlag(&FLAGS_image_member_quota, 3);
  c = ConfigFromFlags({});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->image_limits.properties, -1);
  EXPECT_EQ(c->image_limits.members, 3);
}

TEST_F(ConfigTest, QuotaFileIsReadAtStartAndMustBeValid) {
  std::string path = ::testing::TempDir() + "/config_test_quotas.json";
  {
    std::ofstream out(path);
    out << R"({"defaults": {"image_count_total": 3}})";
  }
  absl::SetFlag(&FLAGS_quota_file, path);
  auto c = ConfigFromFlags({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->quotas.Limit("p1", QuotaResource::kImageCountTotal), 3);
  {
    std::ofstream out(path);
    out << R"({"defaults": {"image_count_total": "3"}})";
  }
  EXPECT_EQ(ConfigFromFlags({}).status().message(),
            "--quota_file=" + path + ": defaults.image_count_total: must be an integer");
  std::remove(path.c_str());
  EXPECT_EQ(ConfigFromFlags({}).status().message(),
            "--quota_file=" + path + ": cannot read " + path);
}

}  // namespace
}  // namespace gaze::metadata
