// Rollouts that run on their own (Kubernetes): verify waits while the rollout progresses
// (RolloutInProgress), rollbackImage waits for the old image's rollout, and GitOps bumped first:
// the rollout is held while migrations run, then resumed, also across a controller killed while
// holding it.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

class ReconcilerRolloutTest : public ReconcilerFixture {
 protected:
  void SetUp() override {
    ReconcilerFixture::SetUp();
    su_.workload.kind = "Deployment";
    su_.workload.name = "ciam-kratos";
    su_.workload.ns = "ciam";
  }
  // The workload already declares the target (GitOps synced the new image first); its pods still
  // run the old one.
  void GitOpsBumpedFirst() {
    rt_.can_hold = true;
    rt_.declared = kNewImage;
    rt_.running_image = kOldImage;
  }
  static RunReport Failed(Status s) {
    RunReport r;
    r.status = std::move(s);
    r.failed_version = "20240201000001";
    return r;
  }
  size_t Index(const std::string& entry) const {
    return static_cast<size_t>(std::find(journal_.begin(), journal_.end(), entry) - journal_.begin());
  }
};

TEST_F(ReconcilerRolloutTest, VerifyWaitsWhileTheRolloutProgressesThenSucceeds) {
  verify_results_ = {Status::Error(Code::kGated, "rollout of x in progress: 1 of 2 updated replicas are available")};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting) << out.result.ToString();
  EXPECT_EQ(out.reason, "RolloutInProgress");
  EXPECT_GT(out.requeue_after.count(), 0);
  EXPECT_FALSE(out.terminal);
  ResourceStatus st = Stored();
  EXPECT_EQ(Cond(st, "Ready"), "False/RolloutInProgress");
  EXPECT_EQ(Cond(st, "Stalled"), "False/RolloutInProgress");
  EXPECT_NE(st.message.find("1 of 2 updated replicas"), std::string::npos) << st.message;
  EXPECT_EQ(st.attempts, 0) << "a progressing rollout is not a failed attempt";
  EXPECT_EQ(st.phase, Phase::kVerifying) << "progressing, not held up (Argo CD: Progressing, not Suspended)";
  EXPECT_EQ(st.previous_image, kOldImage);

  clock_.Advance(out.requeue_after);
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{kNewImage}) << "bumped once";
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerRolloutTest, AWorkloadChangedDuringVerifyIsRetriedNotRolledBack) {
  su_.policy.on_failure = OnFailure::kRollbackImage;
  verify_results_ = {Status::Error(Code::kConflict, "now declares localhost/oryd/kratos:v1.3.0")};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kRetryAfter);
  EXPECT_EQ(out.reason, "WorkloadChanged");
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{kNewImage}) << "no rollback over someone else's change";
}

TEST_F(ReconcilerRolloutTest, RollbackImageWaitsForTheOldImagesRollout) {
  su_.policy.on_failure = OnFailure::kRollbackImage;
  verify_results_ = {Status::Failed("deployment \"ciam-kratos\" exceeded its progress deadline"),
                     Status::Error(Code::kGated, "rollout of old in progress"),
                     Status::Error(Code::kGated, "rollout of old in progress")};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(verified_images_, (std::vector<std::string>{kNewImage, kOldImage, kOldImage, kOldImage}))
      << "the rollback's rollout is watched until it is done";
  ResourceStatus st = Stored();
  EXPECT_EQ(st.failure_action, "rollbackImage: image restored to " + std::string(kOldImage)) << st.failure_action;
  EXPECT_EQ(rt_.declared, kOldImage);
}

TEST_F(ReconcilerRolloutTest, RollbackImageSaysWhenTheOldImageDidNotComeUp) {
  su_.policy.on_failure = OnFailure::kRollbackImage;
  verify_results_ = {Status::Failed("exceeded its progress deadline"), Status::Failed("old pods crash too")};
  Run();
  EXPECT_NE(Stored().failure_action.find("image restored to " + std::string(kOldImage) +
                                         ", but it did not come up: old pods crash too"),
            std::string::npos)
      << Stored().failure_action;
}

TEST_F(ReconcilerRolloutTest, GitOpsBumpedFirstHoldsTheRolloutWhileMigratingThenResumesIt) {
  GitOpsBumpedFirst();
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  // Held before anything changed in the database, released after the last migration, then verified.
  ASSERT_LT(Index("hold"), journal_.size());
  EXPECT_LT(Index("hold"), Index("apply"));
  EXPECT_LT(Index("apply"), Index("release:paused=false"));
  EXPECT_LT(Index("release:paused=false"), Index("verify"));
  EXPECT_TRUE(rt_.set_calls.empty()) << "the image was already the target: nothing to bump";
  EXPECT_FALSE(rt_.held);
  EXPECT_EQ(rt_.running_image, kNewImage);
  EXPECT_EQ(EventsWithReason("RolloutHeld"), 1);
  EXPECT_EQ(EventsWithReason("RolloutResumed"), 1);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.rollout_hold, "");
  EXPECT_EQ(st.phase, Phase::kSucceeded);
}

TEST_F(ReconcilerRolloutTest, AMigrationFailureKeepsTheRolloutHeld) {
  GitOpsBumpedFirst();
  world_.apply_script = {Failed(Status::Database("relation \"sessions\" already exists", "42P07"))};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_TRUE(rt_.held) << "new pods must not start against a schema that was not migrated";
  EXPECT_TRUE(rt_.release_calls.empty());
  ResourceStatus st = Stored();
  EXPECT_EQ(st.rollout_hold, "paused=false");
  EXPECT_NE(st.failure_action.find("stays held"), std::string::npos) << st.failure_action;

  // Fixed and retried: migrated, then resumed with the setting recorded before the hold.
  su_.annotations[kRetryAnnotation] = "1";
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(rt_.release_calls, std::vector<std::string>{"paused=false"});
  EXPECT_FALSE(rt_.held);
}

TEST_F(ReconcilerRolloutTest, AControllerKilledWhileHoldingReleasesOnRestart) {
  GitOpsBumpedFirst();
  // The dead pass: it recorded the setting and held the rollout, then was killed (its last save is
  // all the store keeps); the migrations did not run.
  ResourceStatus at_kill;
  rt_.on_hold = [&] { at_kill = Stored(); };
  world_.apply_script = {Failed(Status::Error(Code::kCancelled, "killed"))};
  Run();
  ASSERT_TRUE(rt_.held);
  ASSERT_EQ(at_kill.rollout_hold, "paused=false") << "recorded before the hold is made";
  ReplaceStoreWith(at_kill);
  rt_.on_hold = nullptr;

  // The restarted controller: the workload now reads as paused (by us); the recorded setting wins.
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(rt_.setting_reads, 1) << "the setting is read once, before the first hold";
  EXPECT_EQ(rt_.release_calls, std::vector<std::string>{"paused=false"});
  EXPECT_FALSE(rt_.held);
  EXPECT_EQ(Stored().rollout_hold, "");
}

TEST_F(ReconcilerRolloutTest, ANewSpecWhileHoldingKeepsTheRecordAndReleases) {
  GitOpsBumpedFirst();
  world_.apply_script = {Failed(Status::Database("syntax error", "42601"))};
  Run();
  ASSERT_TRUE(rt_.held);
  su_.spec_hash = "spec-hash-2";  // e.g. the fixed migration shipped under a new spec
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(rt_.release_calls, std::vector<std::string>{"paused=false"});
  EXPECT_FALSE(rt_.held);
}

TEST_F(ReconcilerRolloutTest, ARuntimeThatCannotHoldMigratesAsBefore) {
  GitOpsBumpedFirst();
  rt_.can_hold = false;  // Podman: nothing starts by itself
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(Index("hold"), journal_.size());
  EXPECT_EQ(EventsWithReason("RolloutHeld"), 0);
}

// Regression (fixed; was Pass::Run holding the rollout only after the gates and the migration lock): a
// GitOps-first bump while the upgrade waits for an approval or a maintenance window was not held,
// so the new pods crash-looped against the old schema (the e2e's "schema mismatch") for as long as
// the gate stayed shut. The hold comes right after pre-flight now, before any gate can keep the
// migrations waiting; the gate still decides when they run.
TEST_F(ReconcilerRolloutTest, AnUpgradeWaitingForApprovalHoldsAGitOpsFirstRollout) {
  GitOpsBumpedFirst();
  su_.policy.approval_required = true;
  auto waiting = Run();
  EXPECT_EQ(waiting.result.code(), Code::kGated) << waiting.result.ToString();
  EXPECT_TRUE(rt_.held) << "new pods must not start against the old schema while the upgrade waits";
  EXPECT_EQ(world_.applies, 0) << "the gate still holds the migrations";
  EXPECT_EQ(EventsWithReason("RolloutHeld"), 1);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kWaiting);
  EXPECT_EQ(Cond(st, "Ready"), "False/AwaitingApproval");
  EXPECT_EQ(st.rollout_hold, "paused=false");

  // Waiting again: the hold is asserted once per pass, the setting read once, one Event in all.
  Run();
  EXPECT_EQ(rt_.setting_reads, 1);
  EXPECT_EQ(EventsWithReason("RolloutHeld"), 1);

  ASSERT_TRUE(waiting.plan.has_value());
  su_.policy.approved_plan_hash = waiting.plan->hash;
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_LT(Index("apply"), Index("release:paused=false"));
  EXPECT_FALSE(rt_.held);
  EXPECT_EQ(EventsWithReason("RolloutResumed"), 1);
}

TEST_F(ReconcilerRolloutTest, AClosedMaintenanceWindowHoldsAGitOpsFirstRolloutUntilItOpens) {
  GitOpsBumpedFirst();
  su_.policy.window = MaintenanceWindow{"02:00", "04:00", "UTC", {}};  // now: Monday 10:00 UTC
  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kGated) << out.result.ToString();
  EXPECT_TRUE(rt_.held);
  EXPECT_EQ(world_.applies, 0);
  EXPECT_EQ(Cond(Stored(), "Ready"), "False/OutsideMaintenanceWindow");
  clock_.Advance(std::chrono::hours(16));
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(rt_.release_calls, std::vector<std::string>{"paused=false"});
  EXPECT_FALSE(rt_.held);
}

TEST_F(ReconcilerRolloutTest, ADryRunHoldsNothing) {
  GitOpsBumpedFirst();
  su_.policy.dry_run = true;
  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kGated) << out.result.ToString();
  EXPECT_FALSE(rt_.held) << "a dry run changes nothing";
  EXPECT_EQ(Index("hold"), journal_.size());
  ReconcileOptions plan_only;
  plan_only.dry_run = true;
  su_.policy.dry_run = false;
  Run(plan_only);
  EXPECT_FALSE(rt_.held) << "plan changes nothing";
}

TEST_F(ReconcilerRolloutTest, NothingPendingHoldsNothing) {
  GitOpsBumpedFirst();
  world_.pending.clear();
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(Index("hold"), journal_.size());
}

}  // namespace
}  // namespace su::testing
