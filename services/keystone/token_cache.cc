#include "services/keystone/token_cache.h"

#include <openssl/evp.h>

namespace gaze::keystone {

std::string TokenCache::KeyOf(std::string_view token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0x0f];
  }
  return out;
}

TokenCache::Verdict TokenCache::Lookup(std::string_view token, absl::Time now,
                                       auth::Identity* identity) {
  std::string key = KeyOf(token);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return Verdict::kMiss;
  if (it->second.expires_at <= now) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
    return Verdict::kMiss;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  if (!it->second.valid) return Verdict::kRejected;
  *identity = it->second.identity;
  return Verdict::kValid;
}

void TokenCache::PutValid(std::string_view token, const auth::Identity& identity,
                          absl::Time expires_at, absl::Time now) {
  Entry e;
  e.valid = true;
  e.identity = identity;
  e.expires_at = std::min(expires_at, now + options_.ttl);
  if (e.expires_at <= now) return;
  std::lock_guard<std::mutex> lock(mu_);
  Put(KeyOf(token), std::move(e));
}

void TokenCache::PutRejected(std::string_view token, absl::Time now) {
  Entry e;
  e.expires_at = now + options_.rejected_ttl;
  std::lock_guard<std::mutex> lock(mu_);
  Put(KeyOf(token), std::move(e));
}

void TokenCache::Put(std::string key, Entry entry) {
  if (options_.capacity == 0) return;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  while (entries_.size() >= options_.capacity) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  entry.lru = lru_.begin();
  entries_.emplace(std::move(key), std::move(entry));
}

size_t TokenCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace gaze::keystone
