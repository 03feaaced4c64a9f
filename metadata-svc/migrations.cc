// Parses and orders the embedded migration files.
#include "metadata-svc/migrations.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gaze::metadata {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::StatusOr<std::vector<Migration>> ParseMigrations(const std::vector<MigrationFile>& files) {
  constexpr std::string_view kSuffix = ".sql";
  std::vector<Migration> out;
  for (const MigrationFile& f : files) {
    std::string_view n = f.file_name;
    bool ok = n.size() > 5 + kSuffix.size() && IsDigit(n[0]) && IsDigit(n[1]) && IsDigit(n[2]) &&
              IsDigit(n[3]) && n[4] == '_' && n.ends_with(kSuffix);
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("migration file name must look like NNNN_name.sql: ", Absl(n)));
    }
    Migration m;
    m.version = std::stoi(std::string(n.substr(0, 4)));
    m.name = std::string(n.substr(5, n.size() - 5 - kSuffix.size()));
    m.sql = f.sql;
    if (m.version == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("migration versions start at 0001: ", Absl(n)));
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      return absl::InvalidArgumentError(
          absl::StrCat("two migrations with version ", out[i].version));
    }
  }
  return out;
}

}  // namespace gaze::metadata
