// VerifyRollout with a scripted runtime and a fake clock: settles on a complete rollout, waits
// (kGated) while it progresses, fails naming the pods and quoting their logs, and tells a changed
// or deleted workload apart from a failed version.
#include <gtest/gtest.h>

#include <deque>

#include "reconcilers/runtimes/kubernetes/kube_workload.h"

namespace su {
namespace {

// Observe returns the scripted states in turn (the last one repeats).
class ScriptedRuntime : public WorkloadRuntime {
 public:
  std::deque<WorkloadStatus> states;
  int observes = 0;
  int logs = 0;
  Result<std::string> DeclaredImage(const WorkloadRef&) override { return std::string("app:2"); }
  Status SetDeclaredImage(const WorkloadRef&, const std::string&, const std::string&) override { return Status::Ok(); }
  Status Rollout(const WorkloadRef&, const std::string&) override { return Status::Ok(); }
  Result<WorkloadStatus> Observe(const WorkloadRef&) override {
    ++observes;
    WorkloadStatus s = states.front();
    if (states.size() > 1) states.pop_front();
    return s;
  }
  Result<std::string> Logs(const WorkloadRef&, int lines) override {
    ++logs;
    return "--- pod web-2-abc (container app):\npanic: schema mismatch (" + std::to_string(lines) + " lines)\n";
  }
  Result<BumpPreflight> PreflightBump(const WorkloadRef&, const std::string&, bool) override { return BumpPreflight{}; }
};

WorkloadStatus State(const std::string& rollout, const std::string& image = "app:2", const std::string& detail = "") {
  WorkloadStatus s;
  s.exists = true;
  s.image = image;
  s.rollout = s.state = rollout;
  s.running = rollout == "complete";
  s.detail = detail;
  return s;
}

class VerifyRolloutTest : public ::testing::Test {
 protected:
  VerifyRolloutTest() : clock_(std::chrono::system_clock::now()) {
    w_.kind = "Deployment";
    w_.name = "web";
    w_.ns = "shop";
  }
  Status Verify(std::chrono::milliseconds settle = std::chrono::milliseconds(5000)) {
    return VerifyRollout(&rt_, w_, "app:2", settle, &clock_);
  }
  ScriptedRuntime rt_;
  FakeClock clock_;
  WorkloadRef w_;
};

TEST_F(VerifyRolloutTest, ACompleteRolloutMustStayCompleteForTheSettleTime) {
  rt_.states = {State("progressing"), State("complete"), State("complete")};
  auto t0 = clock_.MonotonicNow();
  EXPECT_TRUE(Verify().ok());
  EXPECT_GE(clock_.MonotonicNow() - t0, std::chrono::milliseconds(5000));
}

TEST_F(VerifyRolloutTest, ARolloutThatGoesBackStartsTheSettleTimeAgain) {
  rt_.states = {State("complete"), State("complete"), State("progressing", "app:2", "1 of 3 updated replicas are available"),
                State("complete")};
  auto t0 = clock_.MonotonicNow();
  EXPECT_TRUE(Verify(std::chrono::milliseconds(3000)).ok());
  EXPECT_GE(clock_.MonotonicNow() - t0, std::chrono::milliseconds(2000 + 3000));
}

TEST_F(VerifyRolloutTest, StillProgressingAfterTheBoundIsGatedWithTheDetail) {
  rt_.states = {State("progressing", "app:2", "Waiting for deployment \"web\" rollout to finish: 1 of 3 updated replicas "
                                              "are available...; pod web-2-abc (container app): CrashLoopBackOff")};
  Status s = Verify();
  EXPECT_EQ(s.code(), Code::kGated) << s.ToString();
  EXPECT_NE(s.message().find("in progress"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("web-2-abc (container app): CrashLoopBackOff"), std::string::npos) << s.message();
  EXPECT_EQ(rt_.logs, 0) << "logs are for failures";
}

TEST_F(VerifyRolloutTest, AFailedRolloutNamesThePodsAndQuotesTheirLogs) {
  rt_.states = {State("progressing"), State("failed", "app:2", "deployment \"web\" exceeded its progress deadline; pod "
                                                               "web-2-abc (container app): CrashLoopBackOff")};
  Status s = Verify();
  EXPECT_EQ(s.code(), Code::kFailed) << s.ToString();
  for (const char* want : {"Deployment shop/web", "exceeded its progress deadline", "web-2-abc", "CrashLoopBackOff",
                           "last log lines:", "panic: schema mismatch (20 lines)", "What to do"}) {
    EXPECT_NE(s.message().find(want), std::string::npos) << want << " in " << s.message();
  }
}

TEST_F(VerifyRolloutTest, AnotherImageIsAConflictAndADeletedWorkloadAFailure) {
  rt_.states = {State("progressing", "app:3")};
  EXPECT_EQ(Verify().code(), Code::kConflict);
  WorkloadStatus gone;
  rt_.states = {gone};
  Status s = Verify();
  EXPECT_EQ(s.code(), Code::kFailed);
  EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace su
