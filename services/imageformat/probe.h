// Internal to services/imageformat: the per-format probes the Inspector runs side by side, and the
// region capture they share (oslo.utils' CaptureRegion / EndCaptureRegion).
//
// A probe asks for one byte range of the stream at a time and parses it when it is complete; the
// next range it asks for must start at or after the end of the one it just parsed. That rule keeps
// the result independent of how the stream was cut into chunks, and lets the Inspector skip every
// byte no probe is waiting for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/imageformat/inspector.h"

namespace gaze::imageformat::internal {

// Bytes [offset, offset + length) of the stream, filled as they stream past. A region nobody
// asked for has length 0 and is never complete.
struct Region {
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string data;

  uint64_t end() const { return offset + length; }
  bool complete() const { return length > 0 && data.size() == length; }
};

// What a probe concluded once the stream ended.
struct Outcome {
  bool matched = false;
  std::optional<uint64_t> virtual_size;
  std::vector<SafetyFailure> failures;
};

class Probe {
 public:
  explicit Probe(ImageFormat format) : format_(format) {}
  virtual ~Probe() = default;
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  ImageFormat format() const { return format_; }

  // Offers the chunk that starts at stream offset `pos`.
  void Feed(uint64_t pos, const char* data, size_t size);
  // The stream offset below which this probe still wants bytes: 0 when it wants none, UINT64_MAX
  // while it keeps the tail of the stream.
  uint64_t horizon() const;
  // Called once, after the last Feed, with the stream length.
  virtual Outcome Finish(uint64_t total) = 0;

 protected:
  // Starts capturing `region`. Called from the constructor or from OnComplete, and then `offset`
  // must not precede the end of the region being completed (the bytes before it are gone).
  void Want(Region& region, uint64_t offset, uint64_t length);
  // Keeps the last `length` stream bytes from the end of the region being completed onwards.
  void WantTail(size_t length);
  // The kept tail; shorter than asked when the stream ended too early.
  std::string_view tail() const;
  // Parses a region once it is complete; may Want() the next one.
  virtual void OnComplete(Region& region) = 0;

 private:
  const ImageFormat format_;
  Region* pending_ = nullptr;
  uint64_t completed_end_ = 0;  // end of the region most recently completed
  std::optional<uint64_t> tail_from_;
  size_t tail_length_ = 0;
  std::string tail_;  // a window of up to 2 * tail_length_ bytes; the tail is its end
};

// One probe per specific format (not raw), in ImageFormat order.
std::vector<std::unique_ptr<Probe>> MakeProbes();

std::unique_ptr<Probe> MakeQcow2Probe();
std::unique_ptr<Probe> MakeQedProbe();
std::unique_ptr<Probe> MakeVhdProbe();
std::unique_ptr<Probe> MakeVhdxProbe();
std::unique_ptr<Probe> MakeVmdkProbe();
std::unique_ptr<Probe> MakeVdiProbe();
std::unique_ptr<Probe> MakeIsoProbe();
std::unique_ptr<Probe> MakeGptProbe();
std::unique_ptr<Probe> MakeLuksProbe();

// Fixed-width integers at `offset` of `bytes`; the caller guarantees the bytes are there.
uint64_t LoadLe(std::string_view bytes, size_t offset, size_t width);
uint64_t LoadBe(std::string_view bytes, size_t offset, size_t width);

// The "header" failure of a matched format whose `region` the stream ended before completing.
SafetyFailure Truncated(std::string_view what, const Region& region, uint64_t total);

}  // namespace gaze::imageformat::internal
