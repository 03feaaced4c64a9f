// Latency samples and their summary. Every sample is kept and sorted at the end: a measured
// window holds at most a few hundred thousand operations, and exact percentiles need no
// bucket-width caveat in the report.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace gaze::bench {

struct LatencySummary {
  uint64_t count = 0;
  double mean_ms = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

class LatencySamples {
 public:
  void Add(std::chrono::nanoseconds latency) {
    samples_.push_back(static_cast<uint64_t>(latency.count()));
  }
  void Merge(const LatencySamples& other) {
    samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  }
  uint64_t count() const { return samples_.size(); }
  // Nearest-rank percentiles.
  LatencySummary Summarize() const;

 private:
  std::vector<uint64_t> samples_;  // nanoseconds
};

}  // namespace gaze::bench
