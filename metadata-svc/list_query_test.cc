#include "metadata-svc/list_query.h"

#include "gtest/gtest.h"
#include "metadata-svc/sql_params.h"

namespace gaze::metadata {
namespace {

constexpr char kMarker[] = "6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11";

v1::ListImagesRequest Request(const std::string& project = "p1", bool admin = false) {
  v1::ListImagesRequest r;
  r.mutable_caller()->set_project_id(project);
  r.mutable_caller()->set_is_admin(admin);
  return r;
}

void AddSort(v1::ListImagesRequest& r, v1::SortField f, bool desc) {
  v1::SortKey* k = r.add_sort();
  k->set_field(f);
  k->set_descending(desc);
}

std::string Describe(const std::vector<v1::SortKey>& sort) {
  std::string out;
  for (const auto& k : sort) {
    out += v1::SortField_Name(k.field()) + (k.descending() ? ":desc " : ":asc ");
  }
  return out;
}

TEST(EffectiveSortTest, DefaultIsCreatedAtDescThenId) {
  auto sort = EffectiveSort({});
  ASSERT_TRUE(sort.ok());
  EXPECT_EQ(Describe(*sort), "SORT_FIELD_CREATED_AT:desc SORT_FIELD_ID:desc ");
}

TEST(EffectiveSortTest, TieBreakersFollowFirstDirectionAndDuplicatesDrop) {
  v1::ListImagesRequest r;
  AddSort(r, v1::SORT_FIELD_NAME, false);
  AddSort(r, v1::SORT_FIELD_SIZE, true);
  AddSort(r, v1::SORT_FIELD_NAME, true);
  auto sort = EffectiveSort(r.sort());
  ASSERT_TRUE(sort.ok());
  EXPECT_EQ(
      Describe(*sort),
      "SORT_FIELD_NAME:asc SORT_FIELD_SIZE:desc SORT_FIELD_CREATED_AT:asc SORT_FIELD_ID:asc ");
}

TEST(EffectiveSortTest, IdAlreadyPresentIsNotRepeated) {
  v1::ListImagesRequest r;
  AddSort(r, v1::SORT_FIELD_ID, false);
  auto sort = EffectiveSort(r.sort());
  ASSERT_TRUE(sort.ok());
  EXPECT_EQ(Describe(*sort), "SORT_FIELD_ID:asc SORT_FIELD_CREATED_AT:asc ");
}

TEST(EffectiveSortTest, UnknownFieldIsInvalid) {
  v1::ListImagesRequest r;
  AddSort(r, v1::SORT_FIELD_UNSPECIFIED, false);
  EXPECT_EQ(EffectiveSort(r.sort()).status().code(), absl::StatusCode::kInvalidArgument);
  r.mutable_sort(0)->set_field(static_cast<v1::SortField>(99));
  EXPECT_EQ(EffectiveSort(r.sort()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SortExpressionTest, NullableColumnsSortAsSmallest) {
  EXPECT_EQ(SortExpression(v1::SORT_FIELD_NAME, "i"), "COALESCE(i.name, '')");
  EXPECT_EQ(SortExpression(v1::SORT_FIELD_SIZE, "mk"), "COALESCE(mk.size, -1)");
  EXPECT_EQ(SortExpression(v1::SORT_FIELD_CREATED_AT, "i"), "i.created_at");
}

TEST(BuildListQueryTest, DefaultQueryForNonAdmin) {
  auto q = BuildListQuery(Request("p1"), {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->sql,
            "SELECT i.id FROM images i WHERE (NOT i.deleted AND ($1::boolean OR i.owner = $2::text "
            "OR i.owner IS NULL OR i.visibility IN ('public', 'community'))) AND "
            "(i.visibility = 'public' OR i.owner = $2::text) AND i.status <> 'killed' AND "
            "NOT i.os_hidden ORDER BY i.created_at DESC, i.id DESC LIMIT $3::bigint");
  EXPECT_EQ(q->params, (std::vector<std::string>{"false", "p1", "25"}));
  EXPECT_EQ(q->limit, 25);
}

TEST(BuildListQueryTest, AdminDefaultExcludesOtherProjectsCommunityImages) {
  auto q = BuildListQuery(Request("adm", true), {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->sql.find("AND (i.visibility <> 'community' OR i.owner = $2::text)"),
            std::string::npos)
      << q->sql;
  EXPECT_EQ(q->params[0], "true");
}

TEST(BuildListQueryTest, ExplicitVisibilityAndAll) {
  auto r = Request();
  r.mutable_filter()->set_visibility(v1::VISIBILITY_FILTER_COMMUNITY);
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->sql.find("AND i.visibility = $3 AND"), std::string::npos) << q->sql;
  EXPECT_EQ(q->params[2], "community");

  r.mutable_filter()->set_visibility(v1::VISIBILITY_FILTER_ALL);
  q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->sql.find("i.visibility ="), std::string::npos) << q->sql;

  r.mutable_filter()->set_visibility(static_cast<v1::VisibilityFilter>(42));
  EXPECT_EQ(BuildListQuery(r, {25, 1000}, "i.id").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildListQueryTest, LimitDefaultsAndClamps) {
  auto r = Request();
  r.set_limit(0);
  EXPECT_EQ(BuildListQuery(r, {7, 50}, "i.id")->limit, 7);
  r.set_limit(5000);
  EXPECT_EQ(BuildListQuery(r, {7, 50}, "i.id")->limit, 50);
  r.set_limit(3);
  EXPECT_EQ(BuildListQuery(r, {7, 50}, "i.id")->limit, 3);
  r.set_limit(-1);
  EXPECT_EQ(BuildListQuery(r, {7, 50}, "i.id").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BuildListQueryTest, MarkerWithOneDirectionUsesRowComparison) {
  auto r = Request();
  r.set_marker(kMarker);
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->sql.find("AND (i.created_at, i.id) < (SELECT mk.created_at, mk.id FROM images mk "
                        "WHERE mk.id = $3::uuid) ORDER BY"),
            std::string::npos)
      << q->sql;
  EXPECT_EQ(q->params[2], kMarker);
}

TEST(BuildListQueryTest, MarkerWithMixedDirectionsUsesExpandedForm) {
  auto r = Request();
  r.set_marker(kMarker);
  AddSort(r, v1::SORT_FIELD_NAME, false);
  AddSort(r, v1::SORT_FIELD_SIZE, true);
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  const std::string name = "COALESCE(i.name, '')", size = "COALESCE(i.size, -1)";
  auto m = [](const std::string& expr) {
    return "(SELECT " + expr + " FROM images mk WHERE mk.id = $3::uuid)";
  };
  const std::string m1 = m("COALESCE(mk.name, '')"), m2 = m("COALESCE(mk.size, -1)"),
                    m3 = m("mk.created_at"), m4 = m("mk.id");
  std::string expected = "((" + name + " > " + m1 + ") OR (" + name + " = " + m1 + " AND " + size +
                         " < " + m2 + ") OR (" + name + " = " + m1 + " AND " + size + " = " + m2 +
                         " AND i.created_at > " + m3 + ") OR (" + name + " = " + m1 + " AND " +
                         size + " = " + m2 + " AND i.created_at = " + m3 + " AND i.id > " + m4 +
                         "))";
  EXPECT_NE(q->sql.find(expected), std::string::npos) << q->sql;
  EXPECT_NE(q->sql.find("ORDER BY " + name + " ASC, " + size + " DESC, i.created_at ASC, i.id ASC"),
            std::string::npos)
      << q->sql;
}

TEST(BuildListQueryTest, MarkerThatIsNotAUuidIsNotFound) {
  auto r = Request();
  r.set_marker("nope");
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(q.status().message(), "marker not found");
}

TEST(BuildListQueryTest, FiltersAreBoundNeverInlined) {
  auto r = Request();
  v1::ImageFilter* f = r.mutable_filter();
  f->add_names("x'); DROP TABLE images; --");
  f->add_statuses(v1::IMAGE_STATUS_ACTIVE);
  f->add_disk_formats("qcow2");
  f->add_container_formats("bare");
  f->set_owner("o1");
  f->add_tags("a\"b");
  (*f->mutable_properties())["os_distro"] = "debian";
  f->set_size_min(1);
  f->set_size_max(9);
  f->set_protected_(true);
  f->set_os_hidden(true);
  f->add_ids(kMarker);
  f->add_ids("not-a-uuid");
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->sql.find("DROP"), std::string::npos);
  EXPECT_EQ(q->sql.find("debian"), std::string::npos);
  for (const char* clause :
       {"i.id = ANY($3::uuid[])", "i.name = ANY($4::text[])", "i.status = ANY($5::text[])",
        "i.disk_format = ANY($6::text[])", "i.container_format = ANY($7::text[])",
        "i.owner = $8::text", "i.tags @> $9::text[]", "i.properties @> $10::jsonb",
        "i.size >= $11::bigint", "i.size <= $12::bigint", "i.protected = $13::boolean",
        "i.os_hidden = $14::boolean"}) {
    EXPECT_NE(q->sql.find(clause), std::string::npos) << clause << " in " << q->sql;
  }
  EXPECT_EQ(q->sql.find("NOT i.os_hidden"), std::string::npos);
  EXPECT_EQ(q->params[2], std::string("{\"") + kMarker + "\"}");
  EXPECT_EQ(q->params[3], "{\"x'); DROP TABLE images; --\"}");
  EXPECT_EQ(q->params[4], "{\"active\"}");
  EXPECT_EQ(q->params[8], "{\"a\\\"b\"}");
  EXPECT_EQ(q->params[9], "{\"os_distro\":\"debian\"}");
  EXPECT_EQ(q->params[12], "true");
}

TEST(BuildListQueryTest, IdsFilterWithoutAnyUuidMatchesNothing) {
  auto r = Request();
  r.mutable_filter()->add_ids("x");
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->sql.find(" AND FALSE"), std::string::npos) << q->sql;
}

TEST(BuildListQueryTest, UnknownStatusFilterIsInvalid) {
  auto r = Request();
  r.mutable_filter()->add_statuses(v1::IMAGE_STATUS_UNSPECIFIED);
  EXPECT_EQ(BuildListQuery(r, {25, 1000}, "i.id").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PgArrayLiteralTest, QuotesAndEscapesEveryElement) {
  EXPECT_EQ(PgArrayLiteral({}), "{}");
  EXPECT_EQ(PgArrayLiteral({"a", "", "b,c", "d\"e", "f\\g", "NULL"}),
            "{\"a\",\"\",\"b,c\",\"d\\\"e\",\"f\\\\g\",\"NULL\"}");
}

}  // namespace
}  // namespace gaze::metadata
