// Runs every format probe over the stream side by side and settles on one format, as oslo.utils'
// InspectWrapper does: the single specific format that matched, or raw when none did.
#include "services/imageformat/inspector.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/imageformat/probe.h"

namespace gaze::imageformat {

using internal::Outcome;
using internal::Probe;

struct Inspector::Impl {
  Impl() : probes(internal::MakeProbes()) {
    for (const auto& probe : probes) active.push_back(probe.get());
    Refresh();
  }

  // Drops the probes that want no more bytes and recomputes the horizon.
  void Refresh() {
    horizon = 0;
    std::erase_if(active, [this](const Probe* probe) {
      const uint64_t h = probe->horizon();
      horizon = std::max(horizon, h > pos ? h : 0);
      return h <= pos;
    });
  }

  std::vector<std::unique_ptr<Probe>> probes;
  std::vector<Probe*> active;  // probes that still want bytes at or after `pos`
  uint64_t pos = 0;            // bytes fed so far
  uint64_t horizon = 0;        // no probe wants any byte at or after this offset
  bool finished = false;
};

Inspector::Inspector() : impl_(std::make_unique<Impl>()) {}
Inspector::Inspector(Inspector&&) noexcept = default;
Inspector& Inspector::operator=(Inspector&&) noexcept = default;
Inspector::~Inspector() = default;

void Inspector::Feed(const char* data, size_t size) {
  Impl& s = *impl_;
  // The hot path: past the last header region (a few hundred KiB into the stream, or the whole
  // stream while a VMDK footer is awaited) a chunk costs one comparison.
  if (s.pos < s.horizon) {
    for (Probe* probe : s.active) probe->Feed(s.pos, data, size);
    s.pos += size;
    s.Refresh();
  } else {
    s.pos += size;
  }
}

absl::StatusOr<Inspection> Inspector::Finish() {
  Impl& s = *impl_;
  if (s.finished) return absl::FailedPreconditionError("Inspector::Finish() was already called");
  s.finished = true;
  std::vector<std::pair<ImageFormat, Outcome>> matches;
  for (const auto& probe : s.probes) {
    Outcome outcome = probe->Finish(s.pos);
    if (outcome.matched) matches.emplace_back(probe->format(), std::move(outcome));
  }
  // A hybrid ISO carries an MBR so that it also boots from a USB stick: ISO+GPT is an ISO.
  // (Probes run in ImageFormat order, so the ISO comes first.)
  if (matches.size() == 2 && matches[0].first == ImageFormat::kIso &&
      matches[1].first == ImageFormat::kGpt) {
    matches.pop_back();
  }
  if (matches.size() > 1) {
    // One header hidden in another is how format confusion attacks start; Glance refuses too.
    std::string names;
    for (const auto& [format, outcome] : matches) {
      absl::StrAppend(&names, names.empty() ? "" : ", ", std::string(FormatName(format)));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("the image content matches more than one format: ", names));
  }
  Inspection inspection;
  inspection.bytes = s.pos;
  if (matches.empty()) {
    inspection.virtual_size = s.pos;
    return inspection;
  }
  Outcome& outcome = matches[0].second;
  inspection.format = matches[0].first;
  inspection.virtual_size = outcome.virtual_size;
  inspection.failures = std::move(outcome.failures);
  return inspection;
}

}  // namespace gaze::imageformat
