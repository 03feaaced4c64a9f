// LeaseKeeper against the fake TaskService: renewals at each stage and on a schedule, the
// progress they carry, a lost lease stopping the work, transient failures retried.
#include "task-worker/lease_keeper.h"

#include <chrono>
#include <functional>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "task-worker/testing/fake_task_service.h"

namespace gaze::worker {
namespace {

namespace mv1 = ::gaze::metadata::v1;
using testing::FakeTaskService;

bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class LeaseKeeperTest : public ::testing::Test {
 protected:
  LeaseKeeperTest() {
    tasks_.AddImportTask("t1", "img", {});
    mv1::ClaimTaskRequest claim;
    claim.set_task_id("t1");
    claim.set_worker_id("w1");
    EXPECT_EQ(tasks_.ClaimTask(claim, "req-1")->outcome(), mv1::CLAIM_OUTCOME_CLAIMED);
  }

  LeaseKeeper::Options Options(absl::Duration interval, int lease_seconds = 60) {
    return {.task_id = "t1",
            .worker_id = "w1",
            .request_id = "req-1",
            .lease_seconds = lease_seconds,
            .interval = interval};
  }

  size_t Renewals() const { return tasks_.renewals().size(); }

  FakeTaskService tasks_;
};

TEST_F(LeaseKeeperTest, RenewsAtEachStageAndOnScheduleWithProgress) {
  LeaseKeeper keeper(tasks_, Options(absl::Hours(1)));
  keeper.StartStage("fetching", "Copied", 0);
  ASSERT_TRUE(Eventually([&] { return Renewals() == 1; })) << "a new stage renews at once";
  keeper.SetBytesTotal(100 << 20);
  keeper.SetBytesDone(3 << 20);
  keeper.StartStage("converting", "Converting from qcow2 to raw", std::nullopt);
  ASSERT_TRUE(Eventually([&] { return Renewals() == 2; }));

  const std::vector<mv1::RenewTaskRequest> renewals = tasks_.renewals();
  EXPECT_EQ(renewals[0].task_id(), "t1");
  EXPECT_EQ(renewals[0].worker_id(), "w1");
  EXPECT_EQ(renewals[0].lease_seconds(), 60);
  EXPECT_EQ(renewals[0].progress().stage(), "fetching");
  EXPECT_EQ(renewals[0].message(), "Copied 0 MiB");
  EXPECT_EQ(renewals[1].progress().stage(), "converting");
  EXPECT_EQ(renewals[1].message(), "Converting from qcow2 to raw");
  EXPECT_EQ(renewals[1].progress().bytes_done(), 0);
  EXPECT_FALSE(keeper.lost());
}

TEST_F(LeaseKeeperTest, ReportsBytesOnTheRegularSchedule) {
  LeaseKeeper keeper(tasks_, Options(absl::Milliseconds(20)));
  keeper.StartStage("storing", "Stored", 10 << 20);
  keeper.SetBytesDone(5 << 20);
  ASSERT_TRUE(Eventually([&] {
    const auto r = tasks_.renewals();
    return !r.empty() && r.back().progress().bytes_done() == (5 << 20);
  }));
  const mv1::RenewTaskRequest last = tasks_.renewals().back();
  EXPECT_EQ(last.progress().bytes_total(), 10 << 20);
  EXPECT_EQ(last.message(), "Stored 5 MiB");
}

TEST_F(LeaseKeeperTest, RenewsAtLeastEveryThirdOfTheLease) {
  LeaseKeeper keeper(tasks_, Options(absl::Hours(1), /*lease_seconds=*/1));
  keeper.StartStage("fetching", "Copied", 0);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return Renewals() >= 3; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

TEST_F(LeaseKeeperTest, ALostLeaseStopsTheWorkAtOnce) {
  LeaseKeeper keeper(tasks_, Options(absl::Milliseconds(10)));
  keeper.StartStage("fetching", "Copied", 0);
  ASSERT_TRUE(Eventually([&] { return Renewals() >= 1; }));
  EXPECT_FALSE(keeper.stop_token().stop_requested());
  tasks_.LeaseTo("t1", "w2");  // the lease expired and w2 took the task over
  ASSERT_TRUE(Eventually([&] { return keeper.stop_token().stop_requested(); }));
  EXPECT_TRUE(keeper.lost());
  const size_t after = Renewals();
  keeper.StartStage("storing", "Stored", 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(Renewals(), after) << "no renewals once the lease is lost";
}

TEST_F(LeaseKeeperTest, TransientFailuresAreRetriedWithoutStopping) {
  int failures = 3;
  tasks_.OnRenew([&](const mv1::RenewTaskRequest&) {
    return failures-- > 0 ? absl::UnavailableError("metadata-svc down") : absl::OkStatus();
  });
  // Retries start at a tenth of the interval and double: four calls within 1.4 s, where the
  // regular schedule would take 6 s.
  LeaseKeeper keeper(tasks_, Options(absl::Seconds(2), /*lease_seconds=*/60));
  const auto start = std::chrono::steady_clock::now();
  keeper.StartStage("fetching", "Copied", 0);
  ASSERT_TRUE(Eventually([&] { return Renewals() >= 4; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_FALSE(keeper.lost());
  tasks_.OnRenew(nullptr);
}

}  // namespace
}  // namespace gaze::worker
