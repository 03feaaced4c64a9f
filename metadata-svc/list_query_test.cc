#include "metadata-svc/list_query.h"

#include "gtest/gtest.h"
#include "metadata-svc/sql_params.h"
#include "metadata-svc/visibility_sql.h"

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

TEST(BuildListQueryTest, DefaultQueryForNonAdminIsAUnionOfIndexFriendlyBranches) {
  auto q = BuildListQuery(Request("p1"), {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok()) << q.status();
  const std::string rest =
      " AND i.status NOT IN ('killed', 'pending_delete') AND NOT i.os_hidden ORDER BY i.created_at "
      "DESC, i.id DESC "
      "LIMIT 25";
  EXPECT_EQ(q->sql,
            "SELECT i.id FROM ("
            "(SELECT i.* FROM images i WHERE NOT i.deleted AND i.visibility = 'public'" +
                rest +
                ") UNION ALL "
                "(SELECT i.* FROM images i WHERE NOT i.deleted AND i.owner = $1::text AND "
                "i.visibility IN ('community', 'private', 'shared')" +
                rest +
                ") UNION ALL "
                "(SELECT i.* FROM images i WHERE NOT i.deleted AND i.owner IS DISTINCT FROM "
                "$1::text AND "
                "i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m WHERE "
                "m.image_id = i.id AND m.member = $1::text AND NOT m.deleted AND m.status = "
                "'accepted')" +
                rest + ")) i ORDER BY i.created_at DESC, i.id DESC LIMIT 25");
  EXPECT_EQ(q->params, (std::vector<std::string>{"p1"}));
  EXPECT_EQ(q->limit, 25);
  EXPECT_TRUE(q->plan_cacheable);
}

TEST(BuildListQueryTest, AdminDefaultExcludesOtherProjectsCommunityImages) {
  auto q = BuildListQuery(Request("adm", true), {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->sql,
            "SELECT i.id FROM images i WHERE NOT i.deleted AND (i.visibility <> 'community' OR "
            "i.owner = $1::text) AND i.status NOT IN ('killed', 'pending_delete') AND NOT "
            "i.os_hidden ORDER BY "
            "i.created_at DESC, i.id DESC LIMIT 25");
  EXPECT_EQ(q->params, (std::vector<std::string>{"adm"}));
}

// Images awaiting a delayed delete are listed only for an admin who asks for their status.
TEST(BuildListQueryTest, PendingDeleteOnlyForAdminsWhoAskForIt) {
  for (bool admin : {false, true}) {
    auto r = Request("p1", admin);
    r.mutable_filter()->add_statuses(v1::IMAGE_STATUS_ACTIVE);
    auto q = BuildListQuery(r, {25, 1000}, "i.id");
    ASSERT_TRUE(q.ok());
    EXPECT_NE(q->sql.find("i.status NOT IN ('killed', 'pending_delete')"), std::string::npos);
    r.mutable_filter()->add_statuses(v1::IMAGE_STATUS_PENDING_DELETE);
    q = BuildListQuery(r, {25, 1000}, "i.id");
    ASSERT_TRUE(q.ok());
    const bool excluded =
        q->sql.find("i.status NOT IN ('killed', 'pending_delete')") != std::string::npos;
    EXPECT_EQ(excluded, !admin) << q->sql;
    EXPECT_EQ(q->sql.find("i.status <> 'killed'") != std::string::npos, admin) << q->sql;
  }
}

// The visibility part of the query for `caller` and `filter`: one fragment per branch.
std::vector<std::string> Branches(const v1::Caller& caller, v1::VisibilityFilter visibility,
                                  v1::MemberStatusFilter member_status) {
  v1::ImageFilter filter;
  filter.set_visibility(visibility);
  filter.set_member_status(member_status);
  SqlParams params;
  return ListVisibilityBranches(caller, filter, params);
}

TEST(ListVisibilityBranchesTest, NonAdminBranchesPerVisibility) {
  v1::Caller p1 = Request("p1").caller();
  const std::string shared_with =
      "NOT i.deleted AND i.owner <> $1::text AND i.visibility = 'shared' AND EXISTS (SELECT 1 "
      "FROM image_members m WHERE m.image_id = i.id AND m.member = $1::text AND NOT m.deleted";
  using V = std::vector<std::string>;
  const auto accepted = v1::MEMBER_STATUS_FILTER_ACCEPTED;
  EXPECT_EQ(Branches(p1, v1::VISIBILITY_FILTER_PUBLIC, accepted),
            (V{"NOT i.deleted AND i.visibility = 'public'"}));
  EXPECT_EQ(Branches(p1, v1::VISIBILITY_FILTER_COMMUNITY, accepted),
            (V{"NOT i.deleted AND i.visibility = 'community'"}));
  EXPECT_EQ(Branches(p1, v1::VISIBILITY_FILTER_PRIVATE, accepted),
            (V{"NOT i.deleted AND i.owner = $1::text AND i.visibility = 'private'",
               "NOT i.deleted AND i.owner IS NULL AND i.visibility = 'private'"}));
  EXPECT_EQ(Branches(p1, v1::VISIBILITY_FILTER_SHARED, v1::MEMBER_STATUS_FILTER_PENDING),
            (V{"NOT i.deleted AND i.owner = $1::text AND i.visibility = 'shared'",
               "NOT i.deleted AND i.owner IS NULL AND i.visibility = 'shared'",
               shared_with + " AND m.status = 'pending')"}));
  EXPECT_EQ(Branches(p1, v1::VISIBILITY_FILTER_ALL, v1::MEMBER_STATUS_FILTER_ALL),
            (V{"NOT i.deleted AND i.visibility IN ('community', 'public')",
               "NOT i.deleted AND i.owner = $1::text AND i.visibility IN ('private', 'shared')",
               "NOT i.deleted AND i.owner IS NULL AND i.visibility IN ('private', 'shared')",
               shared_with + ")"}));
  // By default there is no ownerless branch, so ownerless shares come with the member branch.
  EXPECT_EQ(Branches(p1, v1::VISIBILITY_FILTER_DEFAULT, v1::MEMBER_STATUS_FILTER_REJECTED).back(),
            "NOT i.deleted AND i.owner IS DISTINCT FROM $1::text AND i.visibility = 'shared' AND "
            "EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = i.id AND m.member = "
            "$1::text AND NOT m.deleted AND m.status = 'rejected')");
}

TEST(ListVisibilityBranchesTest, AdminsGetOneBranchAndIgnoreMemberStatus) {
  v1::Caller admin = Request("adm", true).caller();
  using V = std::vector<std::string>;
  EXPECT_EQ(Branches(admin, v1::VISIBILITY_FILTER_ALL, v1::MEMBER_STATUS_FILTER_PENDING),
            (V{"NOT i.deleted"}));
  EXPECT_EQ(Branches(admin, v1::VISIBILITY_FILTER_SHARED, v1::MEMBER_STATUS_FILTER_PENDING),
            (V{"NOT i.deleted AND i.visibility = 'shared'"}));
}

TEST(BuildListQueryTest, ExplicitVisibilityAndAll) {
  auto r = Request();
  r.mutable_filter()->set_visibility(v1::VISIBILITY_FILTER_COMMUNITY);
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->sql,
            "SELECT i.id FROM images i WHERE NOT i.deleted AND i.visibility = 'community' AND "
            "i.status NOT IN ('killed', 'pending_delete') AND NOT i.os_hidden ORDER BY "
            "i.created_at DESC, i.id DESC "
            "LIMIT 25");  // no parameter: the limit is a literal
  EXPECT_TRUE(q->params.empty());

  r.mutable_filter()->set_visibility(static_cast<v1::VisibilityFilter>(42));
  EXPECT_EQ(BuildListQuery(r, {25, 1000}, "i.id").status().code(),
            absl::StatusCode::kInvalidArgument);
  r.mutable_filter()->set_visibility(v1::VISIBILITY_FILTER_ALL);
  r.mutable_filter()->set_member_status(static_cast<v1::MemberStatusFilter>(9));
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
  auto r = Request("adm", true);
  r.set_marker(kMarker);
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->sql.find("AND (i.created_at, i.id) < (SELECT mk.created_at, mk.id FROM images mk "
                        "WHERE mk.id = $2::uuid) AND "),
            std::string::npos)
      << q->sql;
  EXPECT_EQ(q->params[1], kMarker);
  // The marker's visibility is checked in the same statement: an invisible one lists nothing.
  EXPECT_NE(q->sql.find("EXISTS (SELECT 1 FROM images i WHERE i.id = $2::uuid AND (NOT i.deleted"),
            std::string::npos)
      << q->sql;
  EXPECT_EQ(q->params[2], "adm");

  // With several visibility branches, it is checked once, above them.
  auto user = Request("p1", false);
  user.set_marker(kMarker);
  q = BuildListQuery(user, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  const size_t exists = q->sql.find(") i WHERE EXISTS (SELECT 1 FROM images i WHERE i.id = $");
  EXPECT_NE(exists, std::string::npos) << q->sql;
  EXPECT_EQ(q->sql.find("EXISTS (SELECT 1 FROM images i WHERE i.id"), exists + 10) << q->sql;
}

TEST(BuildListQueryTest, MarkerWithMixedDirectionsUsesExpandedForm) {
  auto r = Request("adm", true);
  r.set_marker(kMarker);
  AddSort(r, v1::SORT_FIELD_NAME, false);
  AddSort(r, v1::SORT_FIELD_SIZE, true);
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok());
  const std::string name = "COALESCE(i.name, '')", size = "COALESCE(i.size, -1)";
  auto m = [](const std::string& expr) {
    return "(SELECT " + expr + " FROM images mk WHERE mk.id = $2::uuid)";
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

TEST(BuildListQueryTest, SeveralNamesAreAnArrayAndKeepACustomPlan) {
  auto r = Request("adm", true);
  r.mutable_filter()->add_names("a");
  auto one = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one->plan_cacheable);
  r.mutable_filter()->add_names("b");
  auto two = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(two.ok());
  EXPECT_NE(two->sql.find("COALESCE(i.name, '') = ANY($2::text[]) AND i.name IS NOT NULL"),
            std::string::npos)
      << two->sql;
  EXPECT_EQ(two->params[1], "{\"a\",\"b\"}");
  EXPECT_FALSE(two->plan_cacheable);
}

TEST(BuildListQueryTest, ACommonTagIsALiteralOnACachedPlan) {
  auto r = Request("p1");
  r.mutable_filter()->add_tags("ubuntu");
  ListPlanHints hints;
  hints.common_tag_literal = "'ubuntu'";
  auto q = BuildListQuery(r, {25, 1000}, "i.id", hints);
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->sql.find("'ubuntu'::text = ANY(i.tags)"), std::string::npos) << q->sql;
  EXPECT_EQ(q->sql.find("@>"), std::string::npos) << q->sql;
  EXPECT_TRUE(q->plan_cacheable);
  for (const std::string& p : q->params) EXPECT_NE(p, "ubuntu");
  // With two tags the hint does not apply: their combination may be rare.
  r.mutable_filter()->add_tags("lts");
  q = BuildListQuery(r, {25, 1000}, "i.id", hints);
  EXPECT_NE(q->sql.find("i.tags @> "), std::string::npos) << q->sql;
  EXPECT_FALSE(q->plan_cacheable);
}

TEST(BuildListQueryTest, ValueDependentFiltersKeepACustomPlan) {
  auto r = Request("p1");
  r.mutable_filter()->add_tags("t");
  EXPECT_FALSE(BuildListQuery(r, {25, 1000}, "i.id")->plan_cacheable);
  r = Request("p1");
  (*r.mutable_filter()->mutable_properties())["k"] = "v";
  EXPECT_FALSE(BuildListQuery(r, {25, 1000}, "i.id")->plan_cacheable);
  r = Request("p1");
  r.mutable_filter()->set_size_min(1);
  EXPECT_FALSE(BuildListQuery(r, {25, 1000}, "i.id")->plan_cacheable);
  r = Request("p1");
  r.set_marker(kMarker);
  r.mutable_filter()->add_statuses(v1::IMAGE_STATUS_ACTIVE);
  EXPECT_TRUE(BuildListQuery(r, {25, 1000}, "i.id")->plan_cacheable);
}

TEST(BuildListQueryTest, MarkerThatIsNotAUuidIsNotFound) {
  auto r = Request();
  r.set_marker("nope");
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(q.status().message(), "marker not found");
}

TEST(BuildListQueryTest, FiltersAreBoundNeverInlined) {
  auto r = Request("adm", true);
  r.mutable_filter()->set_visibility(v1::VISIBILITY_FILTER_ALL);
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
  f->set_checksum("c0ffee");
  f->set_os_hash_value("beef");
  f->set_min_ram(512);
  f->set_min_disk(0);
  f->set_os_hidden(true);
  f->add_ids(kMarker);
  f->add_ids("not-a-uuid");
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->sql.find("DROP"), std::string::npos);
  EXPECT_EQ(q->sql.find("debian"), std::string::npos);
  EXPECT_EQ(q->sql.find("c0ffee"), std::string::npos);
  for (const char* clause :
       {"i.id = ANY($1::uuid[])", "COALESCE(i.name, '') = $2::text AND i.name IS NOT NULL",
        "i.status = ANY($3::text[])", "i.disk_format = ANY($4::text[])",
        "i.container_format = ANY($5::text[])", "i.owner = $6::text", "i.tags @> $7::text[]",
        "i.properties @> $8::jsonb", "i.size >= $9::bigint", "i.size <= $10::bigint",
        "i.protected = $11::boolean", "i.checksum = $12::text", "i.os_hash_value = $13::text",
        "i.min_ram = $14::integer", "i.min_disk = $15::integer", "i.os_hidden = $16::boolean"}) {
    EXPECT_NE(q->sql.find(clause), std::string::npos) << clause << " in " << q->sql;
  }
  EXPECT_EQ(q->sql.find("NOT i.os_hidden"), std::string::npos);
  EXPECT_EQ(q->params[0], std::string("{\"") + kMarker + "\"}");
  EXPECT_EQ(q->params[1], "x'); DROP TABLE images; --");
  EXPECT_EQ(q->params[2], "{\"active\"}");
  EXPECT_EQ(q->params[6], "{\"a\\\"b\"}");
  EXPECT_EQ(q->params[7], "{\"os_distro\":\"debian\"}");
  EXPECT_EQ(q->params[10], "true");
  EXPECT_EQ(q->params[13], "512");
  EXPECT_EQ(q->params[14], "0");
}

v1::TimeCondition At(v1::ComparisonOp op, int64_t seconds, int32_t nanos = 0) {
  v1::TimeCondition c;
  c.set_op(op);
  c.mutable_value()->set_seconds(seconds);
  c.mutable_value()->set_nanos(nanos);
  return c;
}

TEST(BuildListQueryTest, TimeConditionsAreAndedRangesOfWholeSeconds) {
  auto r = Request("adm", true);
  r.mutable_filter()->set_visibility(v1::VISIBILITY_FILTER_ALL);
  *r.mutable_filter()->add_created_at() = At(v1::COMPARISON_OP_GTE, 1700000000, 123456000);
  *r.mutable_filter()->add_created_at() = At(v1::COMPARISON_OP_LT, 1800000000);
  *r.mutable_filter()->add_updated_at() = At(v1::COMPARISON_OP_NEQ, 0);
  auto q = BuildListQuery(r, {25, 1000}, "i.id");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_NE(q->sql.find("i.created_at >= $1::timestamptz AND i.created_at < $2::timestamptz AND "
                        "(i.updated_at < $3::timestamptz OR i.updated_at >= $4::timestamptz)"),
            std::string::npos)
      << q->sql;
  // gte with a fraction starts at the next whole second.
  EXPECT_EQ(q->params[0], "2023-11-14 22:13:21+00");
  EXPECT_EQ(q->params[1], "2027-01-15 08:00:00+00");
  EXPECT_EQ(q->params[2], "1970-01-01 00:00:00+00");
  EXPECT_EQ(q->params[3], "1970-01-01 00:00:01+00");
}

TEST(BuildListQueryTest, EachOperatorComparesWholeSeconds) {
  auto build = [](v1::ComparisonOp op, int32_t nanos) {
    auto r = Request("adm", true);
    r.mutable_filter()->set_visibility(v1::VISIBILITY_FILTER_ALL);
    *r.mutable_filter()->add_created_at() = At(op, 100, nanos);
    auto q = BuildListQuery(r, {25, 1000}, "i.id");
    EXPECT_TRUE(q.ok()) << q.status();
    return q.ok() ? *q : ListQuery{};
  };
  struct Case {
    v1::ComparisonOp op;
    int32_t nanos;
    const char* sql;
    const char* first_param;
  };
  for (Case c : {Case{v1::COMPARISON_OP_EQ, 0,
                      "(i.created_at >= $1::timestamptz AND "
                      "i.created_at < $2::timestamptz)",
                      "1970-01-01 00:01:40+00"},
                 {v1::COMPARISON_OP_GT, 0, "i.created_at >= $1", "1970-01-01 00:01:41+00"},
                 {v1::COMPARISON_OP_GTE, 0, "i.created_at >= $1", "1970-01-01 00:01:40+00"},
                 {v1::COMPARISON_OP_GTE, 5, "i.created_at >= $1", "1970-01-01 00:01:41+00"},
                 {v1::COMPARISON_OP_LT, 0, "i.created_at < $1", "1970-01-01 00:01:40+00"},
                 {v1::COMPARISON_OP_LT, 5, "i.created_at < $1", "1970-01-01 00:01:41+00"},
                 {v1::COMPARISON_OP_LTE, 0, "i.created_at < $1", "1970-01-01 00:01:41+00"}}) {
    ListQuery q = build(c.op, c.nanos);
    EXPECT_NE(q.sql.find(c.sql), std::string::npos) << c.op << " " << q.sql;
    ASSERT_FALSE(q.params.empty());
    EXPECT_EQ(q.params[0], c.first_param) << c.op << "/" << c.nanos;
  }
  EXPECT_NE(build(v1::COMPARISON_OP_EQ, 5).sql.find("AND FALSE AND"), std::string::npos);
  EXPECT_NE(build(v1::COMPARISON_OP_NEQ, 5).sql.find("AND TRUE AND"), std::string::npos);
}

TEST(BuildListQueryTest, InvalidTimeConditions) {
  for (const v1::TimeCondition& c :
       {At(v1::COMPARISON_OP_UNSPECIFIED, 0), At(static_cast<v1::ComparisonOp>(77), 0),
        At(v1::COMPARISON_OP_EQ, 253402300800), At(v1::COMPARISON_OP_EQ, 0, -1),
        At(v1::COMPARISON_OP_EQ, 0, 1000000000)}) {
    auto r = Request();
    *r.mutable_filter()->add_updated_at() = c;
    EXPECT_EQ(BuildListQuery(r, {25, 1000}, "i.id").status().code(),
              absl::StatusCode::kInvalidArgument)
        << c.DebugString();
  }
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
