// Backoff: growth, jitter bounds, cap and reset.
#include "task-worker/backoff.h"

#include "gtest/gtest.h"

namespace gaze::worker {
namespace {

TEST(Backoff, DoublesWithJitterUpToTheCap) {
  Backoff backoff(absl::Milliseconds(100), absl::Milliseconds(1000));
  for (absl::Duration full :
       {absl::Milliseconds(100), absl::Milliseconds(200), absl::Milliseconds(400),
        absl::Milliseconds(800), absl::Milliseconds(1000), absl::Milliseconds(1000)}) {
    const absl::Duration d = backoff.Next();
    EXPECT_GE(d, full / 2);
    EXPECT_LE(d, full);
  }
}

TEST(Backoff, ResetStartsOver) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(10));
  for (int i = 0; i < 5; ++i) backoff.Next();
  backoff.Reset();
  EXPECT_LE(backoff.Next(), absl::Milliseconds(100));
}

TEST(Backoff, StaysCappedThroughALongOutage) {
  Backoff backoff(absl::Milliseconds(1), absl::Seconds(1));
  absl::Duration last;
  for (int i = 0; i < 10000; ++i) last = backoff.Next();
  EXPECT_GE(last, absl::Milliseconds(500));
  EXPECT_LE(last, absl::Seconds(1));
}

}  // namespace
}  // namespace gaze::worker
