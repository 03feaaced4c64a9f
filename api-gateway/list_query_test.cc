#include "api-gateway/list_query.h"

#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

absl::StatusOr<ListQuery> Parse(QueryParams q) { return ParseListQuery(q); }

TEST(ListQueryTest, FiltersAndLimit) {
  auto q = Parse({{"limit", "5000"},
                  {"name", "in:a,\"b,c\""},
                  {"status", "active"},
                  {"tag", "x"},
                  {"tag", "y"},
                  {"os_distro", "debian"},
                  {"visibility", "all"},
                  {"size_min", "10"},
                  {"protected", "false"}});
  ASSERT_TRUE(q.ok()) << q.status();
  const auto& r = q->request;
  EXPECT_EQ(r.limit(), kMaxPageSize);
  ASSERT_EQ(r.filter().names_size(), 2);
  EXPECT_EQ(r.filter().names(1), "b,c");
  EXPECT_EQ(r.filter().statuses(0), v1::IMAGE_STATUS_ACTIVE);
  EXPECT_EQ(r.filter().tags_size(), 2);
  EXPECT_EQ(r.filter().properties().at("os_distro"), "debian");
  EXPECT_EQ(r.filter().visibility(), v1::VISIBILITY_FILTER_ALL);
  EXPECT_EQ(r.filter().size_min(), 10);
  EXPECT_FALSE(r.filter().protected_());
  EXPECT_FALSE(q->empty_page);
}

TEST(ListQueryTest, SortSyntaxes) {
  auto q = Parse({{"sort", "name:asc,size"}});
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->request.sort_size(), 2);
  EXPECT_EQ(q->request.sort(0).field(), v1::SORT_FIELD_NAME);
  EXPECT_FALSE(q->request.sort(0).descending());
  EXPECT_TRUE(q->request.sort(1).descending());
  q = Parse({{"sort_key", "name"}, {"sort_key", "id"}, {"sort_dir", "asc"}});
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->request.sort_size(), 2);
  EXPECT_FALSE(q->request.sort(1).descending());
}

TEST(ListQueryTest, Rejections) {
  for (QueryParams bad : std::vector<QueryParams>{
           {{"limit", "x"}},
           {{"limit", "-1"}},
           {{"sort_key", "owner"}},
           {{"sort_dir", "up"}},
           {{"sort", "name"}, {"sort_key", "id"}},
           {{"sort_key", "a"}, {"sort_key", "name"}},
           {{"sort_key", "name"},
            {"sort_key", "id"},
            {"sort_dir", "asc"},
            {"sort_dir", "asc"},
            {"sort_dir", "asc"}},
           {{"visibility", "everyone"}},
           {{"member_status", "maybe"}},
           {{"protected", "yes"}},
           {{"size_max", "big"}},
           {{"name", "gt:a"}},
           {{"name", "in:\"a"}},
           {{"changes-since", "2020"}},
           {{"min_ram", "lots"}},
           {{"min_disk", "1.5"}},
           {{"min_ram", "4294967296"}},
       }) {
    EXPECT_EQ(Parse(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad[0].first;
  }
}

TEST(ListQueryTest, MemberStatusAndExactFilters) {
  auto q = Parse({{"member_status", "pending"},
                  {"checksum", "9a0364b9e99bb480dd25e1f0284c8555"},
                  {"os_hash_value", "c1e4"},
                  {"min_ram", "512"},
                  {"min_disk", "-1"}});
  ASSERT_TRUE(q.ok()) << q.status();
  const v1::ImageFilter& f = q->request.filter();
  EXPECT_EQ(f.member_status(), v1::MEMBER_STATUS_FILTER_PENDING);
  EXPECT_EQ(f.checksum(), "9a0364b9e99bb480dd25e1f0284c8555");
  EXPECT_EQ(f.os_hash_value(), "c1e4");
  EXPECT_EQ(f.min_ram(), 512);
  EXPECT_EQ(f.min_disk(), -1);
  EXPECT_FALSE(f.has_size_min());
  q = Parse({{"member_status", "all"}});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->request.filter().member_status(), v1::MEMBER_STATUS_FILTER_ALL);
  q = Parse({});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->request.filter().member_status(), v1::MEMBER_STATUS_FILTER_ACCEPTED);
  EXPECT_FALSE(q->request.filter().has_min_ram());
  EXPECT_EQ(q->request.limit(), 0) << "metadata-svc's default page size applies";
}

TEST(ListQueryTest, TimeFilters) {
  struct Case {
    const char* value;
    v1::ComparisonOp op;
    int64_t seconds;
    int32_t nanos;
  };
  // 2020-01-02T03:04:05Z is 1577934245.
  for (Case c : {
           Case{"2020-01-02T03:04:05Z", v1::COMPARISON_OP_EQ, 1577934245, 0},
           {"2020-01-02T03:04:05", v1::COMPARISON_OP_EQ, 1577934245, 0},  // no offset: UTC
           {"2020-01-02 03:04:05", v1::COMPARISON_OP_EQ, 1577934245, 0},
           {"eq:2020-01-02T03:04:05Z", v1::COMPARISON_OP_EQ, 1577934245, 0},
           {"neq:2020-01-02T03:04:05Z", v1::COMPARISON_OP_NEQ, 1577934245, 0},
           {"gt:2020-01-02T04:04:05+01:00", v1::COMPARISON_OP_GT, 1577934245, 0},
           {"gte:2020-01-02T02:04:05-0100", v1::COMPARISON_OP_GTE, 1577934245, 0},
           {"lt:2020-01-02T05:04:05+02", v1::COMPARISON_OP_LT, 1577934245, 0},
           {"lte:2020-01-02T03:04:05.25Z", v1::COMPARISON_OP_LTE, 1577934245, 250000000},
           {"2020-01-02T03:04Z", v1::COMPARISON_OP_EQ, 1577934240, 0},
           {"2020-01-02", v1::COMPARISON_OP_EQ, 1577923200, 0},
           {"gt:2020-01-02", v1::COMPARISON_OP_GT, 1577923200, 0},
           {"2020-02-29T00:00:00Z", v1::COMPARISON_OP_EQ, 1582934400, 0},
       }) {
    auto q = Parse({{"updated_at", c.value}});
    ASSERT_TRUE(q.ok()) << c.value << ": " << q.status();
    ASSERT_EQ(q->request.filter().updated_at_size(), 1) << c.value;
    const v1::TimeCondition& t = q->request.filter().updated_at(0);
    EXPECT_EQ(t.op(), c.op) << c.value;
    EXPECT_EQ(t.value().seconds(), c.seconds) << c.value;
    EXPECT_EQ(t.value().nanos(), c.nanos) << c.value;
  }
  auto q = Parse(
      {{"created_at", "gte:2020-01-01T00:00:00Z"}, {"created_at", "lt:2021-01-01T00:00:00Z"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->request.filter().created_at_size(), 2) << "repeated conditions all apply";
  EXPECT_EQ(q->request.filter().updated_at_size(), 0);
}

TEST(ListQueryTest, BadTimeFilters) {
  for (const char* bad : {"", "yesterday", "2020-13-01", "2020-02-30", "2021-02-29T00:00:00Z",
                          "2020-01-01T24:00:00Z", "2020-01-01T10:60Z", "2020-01-01T10:00:00+25:00",
                          "2020-01-01T10:00:00Q", "2020-1-1", "2020-01-01T", "in:2020-01-01",
                          "after:2020-01-01", "gt:", "gt:soon", "gt:2020-01-01T10:00:00.Z"}) {
    EXPECT_EQ(Parse({{"created_at", bad}}).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ListQueryTest, SortEdgeCases) {
  auto q = Parse({{"sort_dir", "asc"}});  // sort_dir alone applies to created_at
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->request.sort_size(), 1);
  EXPECT_EQ(q->request.sort(0).field(), v1::SORT_FIELD_CREATED_AT);
  EXPECT_FALSE(q->request.sort(0).descending());
  q = Parse({{"sort", " name : asc , size: "}});
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->request.sort_size(), 2);
  EXPECT_FALSE(q->request.sort(0).descending());
  EXPECT_TRUE(q->request.sort(1).descending());
  q = Parse({{"sort_key", "name"}, {"sort_key", "size"}});
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->request.sort(0).descending()) << "no sort_dir: desc";
  EXPECT_TRUE(q->request.sort(1).descending());
  q = Parse(
      {{"sort_key", "name"}, {"sort_key", "size"}, {"sort_dir", "asc"}, {"sort_dir", "desc"}});
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->request.sort(0).descending());
  EXPECT_TRUE(q->request.sort(1).descending());
  for (QueryParams bad : std::vector<QueryParams>{{{"sort", ""}},
                                                  {{"sort", "name,"}},
                                                  {{"sort", "name:up"}},
                                                  {{"sort_dir", "asc"}, {"sort_dir", "desc"}},
                                                  {{"sort", "name"}, {"sort_dir", "asc"}}}) {
    EXPECT_EQ(Parse(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad[0].second;
  }
}

TEST(ListQueryTest, Links) {
  QueryParams q = {{"limit", "2"}, {"sort", "name:asc"}, {"marker", "old"}};
  EXPECT_EQ(FirstLink("/v2/images", q), "/v2/images?limit=2&sort=name%3Aasc");
  EXPECT_EQ(NextLink("/v2/images", q, "id9"), "/v2/images?limit=2&sort=name%3Aasc&marker=id9");
  EXPECT_EQ(FirstLink("/v2/tasks", {}), "/v2/tasks");
  EXPECT_EQ(NextLink("/v2/images", {}, "x"), "/v2/images?marker=x");
}

TEST(ListQueryTest, ZeroLimit) {
  auto q = Parse({{"limit", "0"}});
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->empty_page);
  q = Parse({{"status", "bogus"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(q->empty_page) << "an unknown status matches nothing";
  q = Parse({{"status", "in:active,bogus"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(q->empty_page);
  ASSERT_EQ(q->request.filter().statuses_size(), 1);
  EXPECT_EQ(q->request.filter().statuses(0), v1::IMAGE_STATUS_ACTIVE);
}

}  // namespace
}  // namespace gaze::gateway
