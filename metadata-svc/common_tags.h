// The tags many images carry, from PostgreSQL's own statistics, so that a list filtered by one
// of them can run on a cached plan (see list_query.h, ListPlanHints).
#pragma once

#include <pqxx/transaction_base>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace gaze::metadata {

class CommonTags {
 public:
  // A tag on at least this share of the images is common: a page of 25 then walks at most
  // ~500 images in list order, which costs less than planning the query for the value.
  static constexpr double kMinFrequency = 0.05;

  explicit CommonTags(absl::Duration max_age = absl::Minutes(1)) : max_age_(max_age) {}

  // Whether `tag` is common (pg_stats.most_common_elems of images.tags, as of the last
  // ANALYZE). Reloads through `tx` first when the list is older than max_age; one caller
  // reloads while the others go on with the list they have.
  bool IsCommon(pqxx::transaction_base& tx, std::string_view tag);

 private:
  const absl::Duration max_age_;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> tags_ ABSL_GUARDED_BY(mu_);
  absl::Time loaded_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gaze::metadata
