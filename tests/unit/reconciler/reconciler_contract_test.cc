// Expand/contract upgrades (docs/expand-contract.md) with fakes at every edge and a fake clock:
// expand migrations before the bump, contract migrations only after verify, once no old instance
// remains, after policy.contract.after (requeued at that time, not polled) and their own approval;
// failures before the contract phase restore the image and leave the schema; the plan shows both
// groups; a contract migration that sorts before an expand one is refused.
#include <gtest/gtest.h>

#include <algorithm>

#include "reconcilers/base/duration.h"
#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

class ReconcilerContractTest : public ReconcilerFixture {
 protected:
  void SetUp() override {
    ReconcilerFixture::SetUp();
    // Two expand migrations, then the contract one dropping what the old version still reads.
    world_.pending = {FakePending("20240201000001", "add_email"), FakePending("20240201000002", "backfill_email"),
                      AsContract(FakePending("20240201000003", "drop_mail"))};
    // The phase each apply ran in, read from the stored status while the engine runs.
    world_.during_apply = [this](Database*, const RunContext& ctx) {
      apply_phases_.push_back(PhaseName(Stored().phase));
      expand_only_.push_back(ctx.expand_only);
    };
  }
  std::vector<std::string> PendingVersions() const {
    std::vector<std::string> v;
    for (const auto& m : world_.pending) v.push_back(m.version);
    return v;
  }
  std::vector<std::string> apply_phases_;
  std::vector<bool> expand_only_;
};

TEST_F(ReconcilerContractTest, ExpandBeforeBumpContractOnlyAfterVerifyAndSoak) {
  su_.policy.contract_after = std::chrono::hours(24);
  auto out = Run();
  // Pass 1: expand, bump, verify; the contract waits for the soak, requeued when it ends.
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting) << out.result.ToString();
  EXPECT_EQ(out.reason, "ContractSoaking");
  EXPECT_EQ(out.requeue_after, std::chrono::hours(24)) << "requeued when the soak ends, not polled";
  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(journal_, (std::vector<std::string>{"apply", "set-image:" + std::string(kNewImage), "rollout", "verify"}));
  EXPECT_EQ(apply_phases_, std::vector<std::string>{"Expanding"});
  EXPECT_EQ(expand_only_, std::vector<bool>{true});
  EXPECT_EQ(PendingVersions(), std::vector<std::string>{"20240201000003"}) << "the contract did not run";
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kSoaking);
  EXPECT_EQ(st.contract_after, "2026-03-03T10:00:00Z");
  EXPECT_NE(st.message.find("run at 2026-03-03T10:00:00Z"), std::string::npos) << st.message;
  EXPECT_EQ(Cond(st, "Ready"), "False/ContractSoaking") << "Ready only once the contract ran";
  EXPECT_EQ(Cond(st, "Reconciling"), "True/ContractSoaking");
  EXPECT_EQ(st.pending, std::vector<std::string>{"20240201000003"});
  EXPECT_EQ(st.image, kNewImage);

  // Half-way through the soak: nothing runs, the new version is not verified again.
  clock_.Advance(std::chrono::hours(12));
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, "ContractSoaking");
  EXPECT_EQ(out.requeue_after, std::chrono::hours(12));
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(verify_calls_, 1) << "verified once; the soak does not re-verify on every pass";
  EXPECT_EQ(Stored().phase, Phase::kSoaking);

  // Soak over: the contract runs, then Ready.
  clock_.Advance(std::chrono::hours(12));
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(apply_phases_, (std::vector<std::string>{"Expanding", "Contracting"}));
  EXPECT_EQ(expand_only_, (std::vector<bool>{true, false}));
  EXPECT_TRUE(world_.pending.empty());
  st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(st, "Ready"), "True/Succeeded");
  EXPECT_EQ(EventsWithReason("Contracted"), 1);
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{kNewImage}) << "bumped once";
  EXPECT_TRUE(st.contract_after.empty());
}

TEST_F(ReconcilerContractTest, NoSoakRunsTheContractInTheSamePassAfterVerify) {
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(journal_, (std::vector<std::string>{"apply", "set-image:" + std::string(kNewImage), "rollout", "verify",
                                                "apply"}));
  EXPECT_EQ(apply_phases_, (std::vector<std::string>{"Expanding", "Contracting"}));
  EXPECT_TRUE(world_.pending.empty());
}

TEST_F(ReconcilerContractTest, PlansWithoutContractStepsKeepMigratingAndOneApply) {
  world_.pending = {FakePending("20240201000001", "identities"), FakePending("20240201000002", "sessions")};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(apply_phases_, std::vector<std::string>{"Migrating"});
  EXPECT_EQ(expand_only_, std::vector<bool>{false});
  ASSERT_TRUE(out.plan.has_value());
  EXPECT_TRUE(out.plan->contract_hash.empty());
  EXPECT_FALSE(PlanHasContractSteps(*out.plan));
  EXPECT_TRUE(Stored().contract_after.empty());
}

TEST_F(ReconcilerContractTest, AnOldInstanceStillRunningKeepsTheContractWaiting) {
  rt_.other_instances = {kOldImage};  // e.g. a container of the service started by hand
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, "OldVersionRunning");
  EXPECT_GT(out.requeue_after.count(), 0);
  EXPECT_NE(Stored().message.find(std::string("still run ") + kOldImage), std::string::npos) << Stored().message;
  EXPECT_EQ(PendingVersions(), std::vector<std::string>{"20240201000003"});
  rt_.other_instances.clear();
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_TRUE(world_.pending.empty());
}

TEST_F(ReconcilerContractTest, TheOldInstancesAreNamedFiveAtMost) {
  for (int i = 1; i <= 7; ++i) rt_.named_instances.push_back({kOldImage, "pod app-old-" + std::to_string(i)});
  rt_.named_instances.push_back({kNewImage, "pod app-new-1"});  // runs the target: not named
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, "OldVersionRunning");
  const std::string& m = Stored().message;
  EXPECT_NE(m.find("7 instance(s)"), std::string::npos) << m;
  EXPECT_NE(m.find("(pod app-old-1, pod app-old-2, pod app-old-3, pod app-old-4, pod app-old-5 and 2 more)"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("app-new-1"), std::string::npos) << m;
  EXPECT_EQ(PendingVersions(), std::vector<std::string>{"20240201000003"});
}

TEST_F(ReconcilerContractTest, TheContractWaitsForItsOwnApproval) {
  su_.policy.contract_approval_required = true;
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, "AwaitingContractApproval");
  EXPECT_EQ(out.requeue_after.count(), 0) << "only a spec or annotation change moves it";
  ASSERT_TRUE(out.plan.has_value());
  const std::string hash = out.plan->contract_hash;
  ASSERT_EQ(hash.size(), 16u);
  EXPECT_NE(Stored().message.find("olympus.io/approve-contract: " + hash), std::string::npos) << Stored().message;
  EXPECT_EQ(Stored().phase, Phase::kWaiting);
  EXPECT_EQ(PendingVersions(), std::vector<std::string>{"20240201000003"});

  su_.policy.contract_approved_hash = "0123456789abcdef";  // approves something else
  out = Run();
  EXPECT_EQ(out.reason, "AwaitingContractApproval");
  EXPECT_EQ(world_.applies, 1);

  su_.policy.contract_approved_hash = hash;  // the hash `plan` showed before anything ran
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_TRUE(world_.pending.empty());
}

TEST_F(ReconcilerContractTest, AContractBeforeAnExpandMigrationIsRefusedBeforeAnything) {
  world_.pending = {AsContract(FakePending("20240201000001", "drop_old")), FakePending("20240201000002", "add_new"),
                    FakePending("20240201000003", "add_more")};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "ContractOrder");
  EXPECT_NE(out.result.message().find("contract migration 20240201000001_drop_old"), std::string::npos)
      << out.result.message();
  EXPECT_NE(out.result.message().find("sorts before expand migration 20240201000002_add_new"), std::string::npos);
  EXPECT_NE(out.result.message().find("set spec.targetVersion back"), std::string::npos);
  ExpectWorldUntouched();
}

// onFailure after a failed verify of an expand/contract upgrade: the image comes back, the schema
// (expand steps) stays, whatever the policy would undo otherwise.
TEST_F(ReconcilerContractTest, VerifyFailureUnderRunDownRestoresTheImageOnly) {
  su_.policy.on_failure = OnFailure::kRunDown;
  verify_results_ = {Status::Failed("container exited with code 1")};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "VerifyFailed");
  EXPECT_EQ(world_.rollbacks, 0) << "no down migration ran";
  EXPECT_EQ(PendingVersions(), std::vector<std::string>{"20240201000003"}) << "expand kept, contract not run";
  EXPECT_EQ(rt_.declared, kOldImage) << "the old image is back";
  ResourceStatus st = Stored();
  EXPECT_NE(st.failure_action.find("image restored to " + std::string(kOldImage)), std::string::npos)
      << st.failure_action;
  EXPECT_NE(st.failure_action.find("runDown left the schema alone"), std::string::npos) << st.failure_action;
  EXPECT_NE(st.failure_action.find("expand migrations stay"), std::string::npos) << st.failure_action;
  EXPECT_NE(st.failure_action.find("the database stays at 20240201000002"), std::string::npos) << st.failure_action;
}

TEST_F(ReconcilerContractTest, VerifyFailureUnderRestoreBackupRestoresTheImageOnly) {
  su_.policy.on_failure = OnFailure::kRestoreBackup;
  su_.policy.backup_enabled = true;
  verify_results_ = {Status::Failed("container exited with code 1")};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(backup_.backup_paths.size(), 1u) << "the backup was taken before the expand phase";
  EXPECT_TRUE(backup_.restore_options.empty()) << "but not restored";
  EXPECT_EQ(PendingVersions(), std::vector<std::string>{"20240201000003"});
  EXPECT_EQ(rt_.declared, kOldImage);
  EXPECT_NE(Stored().failure_action.find("restoreBackup left the schema alone"), std::string::npos)
      << Stored().failure_action;
}

TEST_F(ReconcilerContractTest, AFailedContractMigrationUndoesNothing) {
  su_.policy.on_failure = OnFailure::kRunDown;
  RunReport failed;
  failed.status = Status::Failed("column \"mail\" does not exist");
  failed.failed_version = "20240201000003";
  world_.apply_script = {RunReport{}, failed};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "MigrationFailed");
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{kNewImage}) << "the new version keeps running";
  EXPECT_EQ(world_.rollbacks, 0);
  ResourceStatus st = Stored();
  EXPECT_NE(st.failure_action.find("a contract migration failed"), std::string::npos) << st.failure_action;
  EXPECT_NE(st.failure_action.find("nothing was undone"), std::string::npos) << st.failure_action;
}

TEST_F(ReconcilerContractTest, ContractOnlyPlanHoldsNoRolloutAndRunsAfterVerify) {
  // The expand phase ran under an earlier pass; GitOps already declares the new image.
  world_.MarkApplied(2);
  rt_.declared = kNewImage;
  rt_.running_image = kNewImage;
  rt_.can_hold = true;
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_FALSE(rt_.held) << "contract migrations never hold the new version back";
  EXPECT_TRUE(rt_.release_calls.empty());
  EXPECT_EQ(apply_phases_, std::vector<std::string>{"Contracting"});
}

SchemaUpgrade PlanSu() {
  SchemaUpgrade su;
  su.name = "kratos";
  su.namespace_ = "ciam";
  su.service = "kratos";
  su.target_version = "v1.2.0";
  su.workload.kind = "ComposeService";
  su.workload.name = "ciam-kratos";
  su.migrations.engine = "sql";
  return su;
}

TEST(ContractPlan, TwoGroupsInEveryRenderingAndAHashThatSurvivesTheExpandPhase) {
  SchemaUpgrade su = PlanSu();
  su.policy.contract_after = std::chrono::hours(24);
  su.policy.contract_approval_required = true;
  EngineState st;
  st.current_version = "20240101000001";
  st.pending = {FakePending("20240201000001", "add_email"), AsContract(FakePending("20240201000002", "drop_mail"))};
  Plan p = BuildPlan(su, st, kOldImage, kNewImage, "7000/kratos");
  std::vector<std::string> kinds;
  for (const auto& s : p.steps) kinds.push_back(s.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"migrate", "bump", "verify", "contract"}));
  EXPECT_NE(p.steps[0].description.find("Apply 1 sql expand migration(s) 20240201000001"), std::string::npos)
      << p.steps[0].description;
  EXPECT_NE(p.steps[3].description.find("after a soak of 24h"), std::string::npos) << p.steps[3].description;
  EXPECT_NE(p.steps[3].description.find("contract hash is approved"), std::string::npos);
  ASSERT_EQ(p.contract_hash.size(), 16u);
  EXPECT_TRUE(p.refused.empty()) << p.refused;

  std::string text = RenderPlanText(p);
  auto expand_at = text.find("Expand (before the image bump");
  auto contract_at = text.find("Contract (after verify");
  ASSERT_NE(expand_at, std::string::npos) << text;
  ASSERT_NE(contract_at, std::string::npos) << text;
  EXPECT_LT(expand_at, text.find("20240201000001 add_email"));
  EXPECT_LT(contract_at, text.find("20240201000002 drop_mail"));
  EXPECT_LT(text.find("20240201000001 add_email"), contract_at);
  EXPECT_NE(text.find("contract hash:    " + p.contract_hash), std::string::npos) << text;

  std::string md = RenderPlanMarkdown(p);
  EXPECT_NE(md.find("**Expand** (1"), std::string::npos) << md;
  EXPECT_NE(md.find("**Contract** (1"), std::string::npos) << md;
  std::string json = RenderPlanJson(p);
  EXPECT_NE(json.find("\"contractHash\":\"" + p.contract_hash + "\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"contract\":[\"20240201000002\"]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"expand\":[\"20240201000001\"]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"phase\":\"contract\""), std::string::npos) << json;

  // After the expand phase: another plan hash (the database moved), the same contract hash, so an
  // approval given from the first `plan` still holds.
  EngineState after = st;
  after.applied.push_back({"20240201000001", "add_email", "sum-20240201000001", ""});
  after.current_version = "20240201000001";
  after.pending.erase(after.pending.begin());
  Plan q = BuildPlan(su, after, kNewImage, kNewImage, "7000/kratos");
  EXPECT_NE(q.hash, p.hash);
  EXPECT_EQ(q.contract_hash, p.contract_hash);
  // Another contract file: another contract hash.
  after.pending[0].checksum = "edited";
  EXPECT_NE(BuildPlan(su, after, kNewImage, kNewImage, "7000/kratos").contract_hash, p.contract_hash);
}

TEST(ContractPlan, PlansWithoutPhasesKeepTheirStepsAndHash) {
  SchemaUpgrade su = PlanSu();
  EngineState st;
  st.pending = {FakePending("20240201000001", "add_email")};
  Plan p = BuildPlan(su, st, kOldImage, kNewImage, "7000/kratos");
  EXPECT_EQ(p.steps[0].description, "Apply 1 sql migration(s) 20240201000001 under the migration lock.");
  EXPECT_EQ(RenderPlanText(p).find("Expand ("), std::string::npos);
  EXPECT_EQ(RenderPlanJson(p).find("contractHash"), std::string::npos);
  // Policy fields left at their defaults do not enter the hash.
  SchemaUpgrade with = su;
  with.policy.contract_after = std::chrono::milliseconds(0);
  EXPECT_EQ(BuildPlan(with, st, kOldImage, kNewImage, "7000/kratos").hash, p.hash);
}

}  // namespace
}  // namespace su::testing
