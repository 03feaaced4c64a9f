#include "services/common/worker_pool.h"

#include <atomic>

#include "gtest/gtest.h"

namespace gaze {
namespace {

TEST(WorkerPoolTest, RunsEveryPostedClosureBeforeDestruction) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(2);
    for (int i = 0; i < 1000; ++i) pool.Post([&ran] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 1000);
}

}  // namespace
}  // namespace gaze
