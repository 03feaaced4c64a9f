// WorkDir: one locked directory per live worker; the directories of dead workers are swept.
// A dead worker is simulated by a lock file nobody holds; a live one by a second WorkDir.
#include "task-worker/work_dir.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gaze::worker {
namespace {

namespace fs = std::filesystem;

class WorkDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gaze-work-dir-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  // What a worker killed with -9 leaves: its lock file (unlocked now) and files.
  void LeaveDeadWorker(const std::string& name) {
    std::ofstream(root_ + "/" + name + ".lock");
    fs::create_directories(root_ + "/" + name + "/task-1");
    std::ofstream(root_ + "/" + name + "/task-1/source") << "half an image";
  }

  std::string root_;
};

TEST_F(WorkDirTest, EachWorkerGetsItsOwnDirectory) {
  auto a = WorkDir::Open(root_, "host-1");
  auto b = WorkDir::Open(root_, "host/2");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->path(), root_ + "/host-1");
  EXPECT_EQ(b->path(), root_ + "/host_2") << "a worker id is made safe for a file name";
  EXPECT_TRUE(fs::is_directory(a->path()));
  EXPECT_EQ(WorkDir::Open(root_, "..").value().path(), root_ + "/w..");
}

TEST_F(WorkDirTest, AnIdInUseByALiveWorkerIsRefused) {
  auto a = WorkDir::Open(root_, "w1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(WorkDir::Open(root_, "w1").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(WorkDirTest, SweepRemovesDeadWorkersOnly) {
  auto me = WorkDir::Open(root_, "me");
  auto alive = WorkDir::Open(root_, "alive");
  ASSERT_TRUE(me.ok() && alive.ok());
  auto task = alive->CreateTaskDir("t", 1);
  ASSERT_TRUE(task.ok());
  LeaveDeadWorker("dead-1");
  LeaveDeadWorker("dead-2");
  std::ofstream(root_ + "/unrelated.txt") << "not ours";

  EXPECT_EQ(me->Sweep(), 2);
  EXPECT_FALSE(fs::exists(root_ + "/dead-1"));
  EXPECT_FALSE(fs::exists(root_ + "/dead-1.lock"));
  EXPECT_FALSE(fs::exists(root_ + "/dead-2"));
  EXPECT_TRUE(fs::exists(*task)) << "a live worker's files stay";
  EXPECT_TRUE(fs::exists(me->path()));
  EXPECT_TRUE(fs::exists(root_ + "/unrelated.txt"));
  EXPECT_EQ(me->Sweep(), 0);
}

TEST_F(WorkDirTest, ARestartedWorkerClearsItsOwnLeftovers) {
  LeaveDeadWorker("pod-0");
  auto again = WorkDir::Open(root_, "pod-0");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(fs::is_empty(again->path()));
}

TEST_F(WorkDirTest, ClosingRemovesEverything) {
  {
    auto w = WorkDir::Open(root_, "w");
    ASSERT_TRUE(w.ok());
    auto task = w->CreateTaskDir("t", 2);
    ASSERT_TRUE(task.ok());
    std::ofstream(*task + "/source") << "bytes";
  }
  EXPECT_TRUE(fs::is_empty(root_));
}

TEST_F(WorkDirTest, TaskDirectoriesAreFreshPerAttempt) {
  auto w = WorkDir::Open(root_, "w");
  ASSERT_TRUE(w.ok());
  auto first = w->CreateTaskDir("task", 1);
  ASSERT_TRUE(first.ok());
  std::ofstream(*first + "/source") << "old";
  auto again = w->CreateTaskDir("task", 1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_TRUE(fs::is_empty(*again));
  auto second = w->CreateTaskDir("task", 2);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, *first);
  w->RemoveTaskDir(*second);
  EXPECT_FALSE(fs::exists(*second));
}

}  // namespace
}  // namespace gaze::worker
