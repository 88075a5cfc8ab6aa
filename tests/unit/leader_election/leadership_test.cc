// The controller's life under a LeaderElector (controller/runtime/leadership.h), driven with the
// FakeLeaderElector: workers start only when leading; shutdown stops them and then releases; a lost
// lease cancels at once, stops them, does not release, and exits 1.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <vector>

#include "controller/runtime/metrics.h"
#include "controller/runtime/leadership.h"
#include "tests/support/fakes/fake_leader_elector.h"

namespace su {
namespace {

class LeadershipTest : public ::testing::Test {
 protected:
  LeadershipHooks Hooks() {
    LeadershipHooks h;
    h.start_workers = [this] {
      Record("start");
      started_ = true;
      return start_status_;
    };
    h.stop_workers = [this] {
      Record(std::string("stop release_calls=") + std::to_string(elector_.release_calls()) +
             " cancelled=" + (cancelled_() ? "1" : "0"));
    };
    return h;
  }
  void Record(const std::string& e) {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back(e);
  }
  std::vector<std::string> Events() {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }
  std::future<LeadershipEnd> Run() {
    return std::async(std::launch::async, [this] { return RunWhileLeading(&elector_, shutdown_.get_token(), Hooks()); });
  }

  testing::FakeLeaderElector elector_{"pod-a_1"};
  std::stop_source shutdown_;
  std::function<bool()> cancelled_ = LeadershipCancelled(&elector_, shutdown_.get_token());
  Status start_status_ = Status::Ok();
  std::atomic<bool> started_{false};
  std::mutex mu_;
  std::vector<std::string> events_;
};

TEST_F(LeadershipTest, AStandbyStartsNoWorkersAndStopsCleanly) {
  auto end = Run();
  while (elector_.wait_calls() == 0) std::this_thread::yield();
  EXPECT_FALSE(started_);
  EXPECT_TRUE(LeadershipReady(elector_)) << "a standby is ready: it could take over";
  shutdown_.request_stop();
  EXPECT_EQ(end.get(), LeadershipEnd::kStoppedBeforeLeading);
  EXPECT_TRUE(Events().empty());
  EXPECT_EQ(ExitCodeFor(LeadershipEnd::kStoppedBeforeLeading), 0);
}

TEST_F(LeadershipTest, ShutdownStopsTheWorkersThenReleasesTheLease) {
  auto end = Run();
  elector_.Grant();
  while (!started_) std::this_thread::yield();
  EXPECT_FALSE(cancelled_());
  shutdown_.request_stop();
  EXPECT_EQ(end.get(), LeadershipEnd::kShutdown);
  EXPECT_EQ(Events(), (std::vector<std::string>{"start", "stop release_calls=0 cancelled=1"}))
      << "the lease is released only after the workers stopped";
  EXPECT_EQ(elector_.release_calls(), 1);
  EXPECT_EQ(ExitCodeFor(LeadershipEnd::kShutdown), 0);
}

TEST_F(LeadershipTest, ALostLeaseCancelsAtOnceStopsTheWorkersAndExitsOneWithoutReleasing) {
  auto end = Run();
  elector_.Grant();
  while (!started_) std::this_thread::yield();
  elector_.Lose("pod-b_2");
  EXPECT_TRUE(cancelled_()) << "no new step may start once the lease is lost";
  EXPECT_FALSE(LeadershipReady(elector_));
  EXPECT_EQ(end.get(), LeadershipEnd::kLostLeadership);
  EXPECT_EQ(Events(), (std::vector<std::string>{"start", "stop release_calls=0 cancelled=1"}));
  EXPECT_EQ(elector_.release_calls(), 0) << "the lease is someone else's now";
  EXPECT_EQ(ExitCodeFor(LeadershipEnd::kLostLeadership), 1);
}

TEST_F(LeadershipTest, AFailedStartReleasesAndExitsOne) {
  start_status_ = Status::Failed("cannot start");
  auto end = Run();
  elector_.Grant();
  EXPECT_EQ(end.get(), LeadershipEnd::kStartFailed);
  EXPECT_EQ(elector_.release_calls(), 1);
  EXPECT_EQ(ExitCodeFor(LeadershipEnd::kStartFailed), 1);
}

TEST_F(LeadershipTest, MetricsShowLeadershipAndTransitions) {
  Metrics m;
  ExportLeaderMetrics(&m, &elector_);
  EXPECT_EQ(m.Value("leader", {{"identity", "pod-a_1"}}), 0);
  elector_.Grant();
  ASSERT_TRUE(elector_.WaitForLeadership({}).ok());
  EXPECT_NE(m.Render().find("schema_upgrade_leader{identity=\"pod-a_1\"} 1"), std::string::npos) << m.Render();
  EXPECT_NE(m.Render().find("schema_upgrade_lease_transitions 1"), std::string::npos) << m.Render();
  elector_.Lose();
  EXPECT_NE(m.Render().find("schema_upgrade_leader{identity=\"pod-a_1\"} 0"), std::string::npos) << m.Render();
  EXPECT_NE(m.Render().find("schema_upgrade_lease_transitions 2"), std::string::npos) << m.Render();
}

}  // namespace
}  // namespace su
