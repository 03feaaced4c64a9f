// A bounded cache of validated Keystone tokens, so a token is validated once and not per
// request. Entries are keyed by a SHA-256 of the token (raw tokens are never kept), expire
// at min(token expiry, now + TTL), and the least recently used entry makes room when full.
// Rejected tokens are remembered briefly too, so a client repeating a bad token cannot make
// Gaze hammer Keystone. Thread-safe.
#pragma once

#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "services/auth/identity.h"

namespace gaze::keystone {

class TokenCache {
 public:
  struct Options {
    size_t capacity = 10000;
    absl::Duration ttl = absl::Minutes(5);            // for valid tokens
    absl::Duration rejected_ttl = absl::Seconds(30);  // for rejected tokens
  };

  explicit TokenCache(Options options) : options_(options) {}

  enum class Verdict { kMiss, kValid, kRejected };
  // `identity` is filled for kValid.
  Verdict Lookup(std::string_view token, absl::Time now, auth::Identity* identity);
  void PutValid(std::string_view token, const auth::Identity& identity, absl::Time expires_at,
                absl::Time now);
  void PutRejected(std::string_view token, absl::Time now);
  size_t size() const;

  // The cache key of a token (lower-case hex SHA-256).
  static std::string KeyOf(std::string_view token);

 private:
  struct Entry {
    bool valid = false;
    auth::Identity identity;
    absl::Time expires_at;
    std::list<std::string>::iterator lru;  // position in lru_ (front = most recent)
  };
  void Put(std::string key, Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gaze::keystone
