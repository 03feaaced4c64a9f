// Region and tail capture shared by every probe.
#include "services/imageformat/probe.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include "absl/strings/str_cat.h"

namespace gaze::imageformat::internal {

void Probe::Feed(uint64_t pos, const char* data, size_t size) {
  const uint64_t end = pos + size;
  while (pending_ != nullptr) {
    Region& region = *pending_;
    const uint64_t next = region.offset + region.data.size();
    if (next >= end) break;
    // next >= pos: Want() never asks for bytes that already streamed past.
    const uint64_t stop = std::min(region.end(), end);
    region.data.append(data + (next - pos), stop - next);
    if (!region.complete()) break;
    pending_ = nullptr;
    completed_end_ = region.end();
    OnComplete(region);
  }
  if (tail_from_ && end > *tail_from_) {
    const uint64_t from = std::max(pos, *tail_from_);
    const char* bytes = data + (from - pos);
    const size_t n = end - from;
    if (n >= tail_length_) {
      tail_.assign(bytes + n - tail_length_, tail_length_);
    } else {
      // Drop the front only once the window doubles, so tiny chunks cost O(1) per byte.
      if (tail_.size() + n > 2 * tail_length_) tail_.erase(0, tail_.size() - tail_length_);
      tail_.append(bytes, n);
    }
  }
}

uint64_t Probe::horizon() const {
  if (tail_from_) return std::numeric_limits<uint64_t>::max();
  return pending_ != nullptr ? pending_->end() : 0;
}

void Probe::Want(Region& region, uint64_t offset, uint64_t length) {
  assert(offset >= completed_end_ && length > 0);
  region.offset = offset;
  region.length = length;
  region.data.clear();
  pending_ = &region;
}

void Probe::WantTail(size_t length) {
  tail_from_ = completed_end_;
  tail_length_ = length;
  tail_.reserve(2 * length);
}

std::string_view Probe::tail() const {
  std::string_view all(tail_);
  return all.substr(all.size() - std::min(all.size(), tail_length_));
}

std::vector<std::unique_ptr<Probe>> MakeProbes() {
  std::vector<std::unique_ptr<Probe>> probes;
  probes.push_back(MakeQcow2Probe());
  probes.push_back(MakeQedProbe());
  probes.push_back(MakeVhdProbe());
  probes.push_back(MakeVhdxProbe());
  probes.push_back(MakeVmdkProbe());
  probes.push_back(MakeVdiProbe());
  probes.push_back(MakeIsoProbe());
  probes.push_back(MakeGptProbe());
  probes.push_back(MakeLuksProbe());
  return probes;
}

uint64_t LoadLe(std::string_view bytes, size_t offset, size_t width) {
  assert(offset + width <= bytes.size() && width <= 8);
  uint64_t value = 0;
  for (size_t i = width; i-- > 0;) value = (value << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return value;
}

uint64_t LoadBe(std::string_view bytes, size_t offset, size_t width) {
  assert(offset + width <= bytes.size() && width <= 8);
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return value;
}

SafetyFailure Truncated(std::string_view what, const Region& region, uint64_t total) {
  return {"header",
          absl::StrCat("the image ends at byte ", total, ", before the end of the ",
                       std::string(what), " at [", region.offset, ", ", region.end(), ")")};
}

}  // namespace gaze::imageformat::internal
