#include "metadata-svc/common_tags.h"

#include <pqxx/result>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/string_view.h"
#include "metadata-svc/pg_statements.h"

namespace gaze::metadata {

bool CommonTags::IsCommon(pqxx::transaction_base& tx, std::string_view tag) {
  bool load = false;
  {
    absl::MutexLock lock(&mu_);
    if (!loading_ && absl::Now() - loaded_at_ > max_age_) load = loading_ = true;
  }
  if (load) {
    absl::Cleanup done = [this] {
      absl::MutexLock lock(&mu_);
      loading_ = false;
      loaded_at_ = absl::Now();  // also after a failure: try again a period later
    };
    absl::flat_hash_set<std::string> tags;
    for (const pqxx::row& row : tx.exec_prepared(stmt::kCommonTags, kMinFrequency)) {
      tags.insert(row[0].as<std::string>());
    }
    absl::MutexLock lock(&mu_);
    tags_ = std::move(tags);
  }
  absl::MutexLock lock(&mu_);
  return tags_.contains(absl::string_view(tag.data(), tag.size()));
}

}  // namespace gaze::metadata
