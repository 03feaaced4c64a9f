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
  EXPECT_FALSE(q->zero_limit);
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
       }) {
    EXPECT_EQ(Parse(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad[0].first;
  }
  EXPECT_EQ(Parse({{"created_at", "gt:2020-01-01T00:00:00Z"}}).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(ListQueryTest, Links) {
  QueryParams q = {{"limit", "2"}, {"sort", "name:asc"}, {"marker", "old"}};
  EXPECT_EQ(FirstLink(q), "/v2/images?limit=2&sort=name%3Aasc");
  EXPECT_EQ(NextLink(q, "id9"), "/v2/images?limit=2&sort=name%3Aasc&marker=id9");
  EXPECT_EQ(FirstLink({}), "/v2/images");
  EXPECT_EQ(NextLink({}, "x"), "/v2/images?marker=x");
}

TEST(ListQueryTest, ZeroLimit) {
  auto q = Parse({{"limit", "0"}});
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->zero_limit);
}

}  // namespace
}  // namespace gaze::gateway
