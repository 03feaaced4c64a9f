#include "metadata-svc/migrations.h"

#include "gtest/gtest.h"

namespace gaze::metadata {
namespace {

TEST(MigrationsTest, EmbeddedFilesParseInVersionOrder) {
  auto migrations = ParseMigrations(EmbeddedMigrationFiles());
  ASSERT_TRUE(migrations.ok()) << migrations.status();
  ASSERT_FALSE(migrations->empty());
  EXPECT_EQ((*migrations)[0].version, 1);
  EXPECT_EQ((*migrations)[0].name, "initial");
  EXPECT_NE((*migrations)[0].sql.find("CREATE TABLE images"), std::string_view::npos);
  // The embedded text is the whole file, up to its last statement.
  EXPECT_NE((*migrations)[0].sql.find("CREATE TRIGGER outbox_notify"), std::string_view::npos);
  for (size_t i = 1; i < migrations->size(); ++i) {
    EXPECT_LT((*migrations)[i - 1].version, (*migrations)[i].version);
  }
}

TEST(MigrationsTest, SortsByVersion) {
  auto m = ParseMigrations({{"0002_b.sql", "B"}, {"0001_a.sql", "A"}});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)[0].version, 1);
  EXPECT_EQ((*m)[0].sql, "A");
  EXPECT_EQ((*m)[1].name, "b");
}

TEST(MigrationsTest, RejectsBadNamesAndDuplicates) {
  for (const char* bad :
       {"1_a.sql", "0001-a.sql", "0001_.sql", "0001_a.txt", "abcd_a.sql", "0000_zero.sql"}) {
    EXPECT_EQ(ParseMigrations({{bad, ""}}).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(ParseMigrations({{"0001_a.sql", ""}, {"0001_b.sql", ""}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gaze::metadata
