#include "bench/stats.h"

#include <algorithm>
#include <cmath>

namespace gaze::bench {

LatencySummary LatencySamples::Summarize() const {
  LatencySummary s;
  s.count = samples_.size();
  if (samples_.empty()) return s;
  std::vector<uint64_t> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  auto rank = [&](double p) {
    auto n = static_cast<double>(sorted.size());
    auto index = static_cast<size_t>(std::ceil(p * n)) - 1;
    return ms(sorted[std::min(index, sorted.size() - 1)]);
  };
  long double total = 0;
  for (uint64_t v : sorted) total += v;
  s.mean_ms = static_cast<double>(total / sorted.size()) / 1e6;
  s.p50_ms = rank(0.50);
  s.p90_ms = rank(0.90);
  s.p99_ms = rank(0.99);
  s.max_ms = ms(sorted.back());
  return s;
}

}  // namespace gaze::bench
