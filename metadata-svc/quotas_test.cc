#include "metadata-svc/quotas.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace gaze::metadata {
namespace {

constexpr int64_t kMiB = 1 << 20;

ProjectQuotas MustParse(const std::string& json) {
  auto q = ProjectQuotas::Parse(json);
  EXPECT_TRUE(q.ok()) << q.status();
  return q.ok() ? *q : ProjectQuotas();
}

TEST(ImageLimitsTest, PropertiesAndTagsOverTheLimit) {
  ImageLimits limits{.properties = 2, .tags = 1, .members = 3};
  v1::Image img;
  (*img.mutable_properties())["a"] = "1";
  (*img.mutable_properties())["b"] = "2";
  img.add_tags("t");
  EXPECT_TRUE(CheckImageLimits(limits, nullptr, img).ok());
  (*img.mutable_properties())["c"] = "3";
  absl::Status s = CheckImageLimits(limits, nullptr, img);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(),
            "The limit has been exceeded on the number of allowed image properties. Attempted: "
            "3, Maximum: 2");
  img.mutable_properties()->erase("c");
  img.add_tags("u");
  s = CheckImageLimits(limits, nullptr, img);
  EXPECT_EQ(s.message(),
            "The limit has been exceeded on the number of allowed image tags. Attempted: 2, "
            "Maximum: 1");
}

TEST(ImageLimitsTest, AnImageOverALoweredLimitMayShrinkButNotGrow) {
  ImageLimits limits{.properties = 1, .tags = 1, .members = 1};
  v1::Image before;
  for (const char* k : {"a", "b", "c"}) (*before.mutable_properties())[k] = "v";
  v1::Image after = before;
  after.mutable_properties()->erase("c");
  EXPECT_TRUE(CheckImageLimits(limits, &before, after).ok());
  EXPECT_TRUE(CheckImageLimits(limits, &before, before).ok());
  (*after.mutable_properties())["c"] = "v";
  (*after.mutable_properties())["d"] = "v";
  EXPECT_EQ(CheckImageLimits(limits, &before, after).code(), absl::StatusCode::kResourceExhausted);
}

TEST(ImageLimitsTest, NegativeMeansUnlimited) {
  ImageLimits limits{.properties = -1, .tags = -5, .members = -1};
  v1::Image img;
  for (int i = 0; i < 300; ++i) {
    (*img.mutable_properties())[std::to_string(i)] = "v";
    img.add_tags(std::to_string(i));
  }
  EXPECT_TRUE(CheckImageLimits(limits, nullptr, img).ok());
  EXPECT_TRUE(CheckMemberLimit(limits, 10000).ok());
}

TEST(ImageLimitsTest, Members) {
  ImageLimits limits{.properties = 1, .tags = 1, .members = 2};
  EXPECT_TRUE(CheckMemberLimit(limits, 1).ok());
  absl::Status s = CheckMemberLimit(limits, 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(),
            "The limit has been exceeded on the number of allowed image members for this image. "
            "Attempted: 3, Maximum: 2");
  EXPECT_FALSE(CheckMemberLimit({.members = 0}, 0).ok());
}

TEST(ProjectQuotasTest, NoFileMeansNoLimits) {
  ProjectQuotas none;
  EXPECT_FALSE(none.Limit("p1", QuotaResource::kImageCountTotal));
  EXPECT_TRUE(none.Check("p1", {.count_total = 1000}, {{QuotaResource::kImageCountTotal, 1}}).ok());
  EXPECT_FALSE(none.RemainingBytes("p1", QuotaResource::kImageSizeTotal, {}));
  EXPECT_TRUE(none.Report("p1", {}).empty());
  EXPECT_TRUE(MustParse("{}").Report("p1", {}).empty());
}

TEST(ProjectQuotasTest, ProjectEntriesOverrideDefaultsAndMinusOneIsUnlimited) {
  ProjectQuotas q = MustParse(R"({
      "defaults": {"image_count_total": 100, "image_size_total": 10240},
      "projects": {"small": {"image_count_total": 5},
                   "free": {"image_size_total": -1, "image_count_uploading": 2}}})");
  EXPECT_EQ(q.Limit("anyone", QuotaResource::kImageCountTotal), 100);
  EXPECT_EQ(q.Limit("small", QuotaResource::kImageCountTotal), 5);
  EXPECT_EQ(q.Limit("small", QuotaResource::kImageSizeTotal), 10240);
  EXPECT_FALSE(q.Limit("free", QuotaResource::kImageSizeTotal));
  EXPECT_EQ(q.Limit("free", QuotaResource::kImageCountUploading), 2);
  EXPECT_FALSE(q.Limit("anyone", QuotaResource::kImageStageTotal));
  EXPECT_TRUE(q.LimitsAny("free", {{QuotaResource::kImageCountUploading, 1}}));
  EXPECT_FALSE(q.LimitsAny("free", {{QuotaResource::kImageSizeTotal, 1}}));
  EXPECT_FALSE(q.LimitsAny("anyone", {{QuotaResource::kImageStageTotal, 1}}));
}

TEST(ProjectQuotasTest, CheckSpeaksLikeOsloLimit) {
  ProjectQuotas q = MustParse(R"({"defaults": {"image_size_total": 10, "image_count_total": 3,
                                               "image_count_uploading": 1}})");
  ProjectUsage usage{.count_total = 3, .size_bytes = 9 * kMiB, .count_uploading = 1};
  EXPECT_TRUE(q.Check("p1", usage, {{QuotaResource::kImageSizeTotal, kMiB}}).ok());
  absl::Status s = q.Check("p1", usage, {{QuotaResource::kImageSizeTotal, kMiB + 1}});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(),
            "Project p1 is over a limit for [Resource image_size_total is over limit of 10 due to "
            "current usage 9 and delta 2]");
  s = q.Check("p1", usage,
              {{QuotaResource::kImageCountUploading, 1}, {QuotaResource::kImageCountTotal, 1}});
  EXPECT_EQ(s.message(),
            "Project p1 is over a limit for [Resource image_count_uploading is over limit of 1 "
            "due to current usage 1 and delta 1, Resource image_count_total is over limit of 3 "
            "due to current usage 3 and delta 1]");
  // A zero delta only fails once the usage is already over the limit.
  EXPECT_TRUE(q.Check("p1", {.size_bytes = 10 * kMiB}, {{QuotaResource::kImageSizeTotal, 0}}).ok());
  EXPECT_FALSE(
      q.Check("p1", {.size_bytes = 10 * kMiB + 1}, {{QuotaResource::kImageSizeTotal, 0}}).ok());
}

TEST(ProjectQuotasTest, RemainingBytesAndReport) {
  ProjectQuotas q = MustParse(R"({"defaults": {"image_size_total": 2, "image_count_total": 9,
                                               "image_stage_total": 0}})");
  ProjectUsage usage{.count_total = 4, .size_bytes = kMiB + 1, .stage_bytes = 0};
  EXPECT_EQ(q.RemainingBytes("p1", QuotaResource::kImageSizeTotal, usage), kMiB - 1);
  EXPECT_EQ(q.RemainingBytes("p1", QuotaResource::kImageSizeTotal, {.size_bytes = 5 * kMiB}), 0);
  EXPECT_EQ(q.RemainingBytes("p1", QuotaResource::kImageStageTotal, usage), 0);
  EXPECT_FALSE(q.RemainingBytes("p1", QuotaResource::kImageCountTotal, usage));
  ProjectQuotas staging = MustParse(R"({"defaults": {"image_stage_total": 3}})");
  EXPECT_EQ(staging.RemainingBytes("p1", QuotaResource::kImageStageTotal, {.stage_bytes = kMiB}),
            2 * kMiB);
  EXPECT_FALSE(staging.RemainingBytes("p1", QuotaResource::kImageSizeTotal, usage));
  std::vector<v1::QuotaUsage> report = q.Report("p1", usage);
  ASSERT_EQ(report.size(), 3u);
  EXPECT_EQ(report[0].resource(), "image_size_total");
  EXPECT_EQ(report[0].limit(), 2);
  EXPECT_EQ(report[0].usage(), 2);  // MiB, rounded up
  EXPECT_EQ(report[1].resource(), "image_stage_total");
  EXPECT_EQ(report[1].usage(), 0);
  EXPECT_EQ(report[2].resource(), "image_count_total");
  EXPECT_EQ(report[2].usage(), 4);
}

TEST(ProjectQuotasTest, InvalidDocuments) {
  struct Case {
    const char* json;
    const char* error;
  };
  for (const Case& c : {
           Case{"", "quota file: not valid JSON"},
           Case{"[]", "quota file: must be a JSON object"},
           Case{R"({"default": {}})",
                "default: unknown key (expected \"defaults\" and \"projects\")"},
           Case{R"({"defaults": {"image_count": 1}})",
                "defaults.image_count: unknown resource (expected one of image_size_total, "
                "image_stage_total, image_count_total, image_count_uploading)"},
           Case{R"({"defaults": {"image_count_total": "5"}})",
                "defaults.image_count_total: must be an integer"},
           Case{R"({"defaults": {"image_count_total": 1.5}})",
                "defaults.image_count_total: must be an integer"},
           Case{R"({"defaults": {"image_count_total": 18446744073709551615}})",
                "defaults.image_count_total: must be an integer"},
           Case{R"({"projects": {"p": {"image_count_total": -2}}})",
                "projects.p.image_count_total: must be -1 (unlimited) or at least 0"},
           Case{R"({"projects": {"p": {"image_size_total": 8796093022208}}})",
                "projects.p.image_size_total: must be at most 8796093022207 (MiB)"},
           Case{R"({"projects": []})", "projects: must be an object keyed by project id"},
           Case{R"({"projects": {"p": 5}})", "projects.p: must be an object of resource limits"},
       }) {
    auto q = ProjectQuotas::Parse(c.json);
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(q.status().message(), c.error) << c.json;
  }
}

TEST(ProjectQuotasTest, LoadReadsAFile) {
  std::string path = ::testing::TempDir() + "/quotas_test.json";
  {
    std::ofstream out(path);
    out << R"({"projects": {"p1": {"image_count_total": 7}}})";
  }
  auto q = ProjectQuotas::Load(path);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->Limit("p1", QuotaResource::kImageCountTotal), 7);
  std::remove(path.c_str());
  EXPECT_EQ(ProjectQuotas::Load(path).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gaze::metadata
