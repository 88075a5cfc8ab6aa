// Upgrade paths and onFailure rollback in the reconciler, with fakes: a jump over a
// spec.upgradePath release is refused before any change, naming the path; policy.stepThrough
// walks each release (migrate up to its migrations, bump, verify) in order, resumes a step killed
// between bump and verify without applying anything twice; onFailure rollback puts the image back
// first, then the schema (down migrations, or the backup when the engine has none), and is refused
// up front when neither can undo the schema. Also the pure helpers of api/upgrade_path.h.
#include <gtest/gtest.h>

#include "api/upgrade_path.h"
#include "reconcilers/schemaupgrade/dependencies.h"
#include "reconcilers/schemaupgrade/path_step.h"
#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "missing: " << (needle) << "\nin: " << (haystack)

constexpr const char* kMidImage = "localhost/oryd/kratos:v1.1.5";

TEST(UpgradePath, ReleaseVersionsOrderNumericallyWithPreReleasesFirst) {
  EXPECT_LT(CompareReleaseVersions("v1.9.0", "v1.10.0"), 0);
  EXPECT_GT(CompareReleaseVersions("v2.0.0", "v1.99.99"), 0);
  EXPECT_EQ(CompareReleaseVersions("v1.2.0", "1.2.0"), 0);
  EXPECT_LT(CompareReleaseVersions("v1.2.0-rc.1", "v1.2.0"), 0);
  EXPECT_LT(CompareReleaseVersions("v1.2.0-rc.2", "v1.2.0-rc.10"), 0);
  EXPECT_LT(CompareReleaseVersions("20240201000002", "20240201000010"), 0);
  EXPECT_LT(CompareReleaseVersions("0002_roles", "0010_audit"), 0);
}

TEST(UpgradePath, SkippedReleasesAreTheOnesStrictlyBetween) {
  std::vector<UpgradePathEntry> path = {{"v1.1.0", ""}, {"v1.5.0", "7"}, {"v2.0.0", ""}};
  auto versions = [](const std::vector<UpgradePathEntry>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.version);
    return out;
  };
  EXPECT_EQ(versions(SkippedReleases(path, "v1.0.0", "v2.1.0")), (std::vector<std::string>{"v1.1.0", "v1.5.0", "v2.0.0"}));
  EXPECT_EQ(versions(SkippedReleases(path, "v1.1.0", "v2.0.0")), (std::vector<std::string>{"v1.5.0"}));
  EXPECT_TRUE(SkippedReleases(path, "v1.5.0", "v1.9.0").empty());
  EXPECT_TRUE(SkippedReleases(path, "", "v2.1.0").empty()) << "no workload: nothing to compare";
  EXPECT_TRUE(SkippedReleases(path, "latest", "v2.1.0").empty()) << "not a release";
  EXPECT_TRUE(SkippedReleases(path, "v2.1.0", "v1.0.0").empty()) << "a downgrade is another check's";
  EXPECT_EQ(DescribePath("v1.0.0", SkippedReleases(path, "v1.0.0", "v1.6.0"), "v1.6.0"),
            "v1.0.0 -> v1.1.0 -> v1.5.0 -> v1.6.0");
}

// An engine whose Observe returns a fixed state (for CapPendingAt).
class FixedStateEngine : public Engine {
 public:
  explicit FixedStateEngine(EngineState st) : st_(std::move(st)) {}
  std::string name() const override { return "sql"; }
  Result<EngineState> Observe(Database*) override { return st_; }
  RunReport Apply(Database*, const RunContext&) override { return {}; }

 private:
  EngineState st_;
};

TEST(UpgradePath, ACappedStepKeepsOnlyItsOwnBackfillsAndTheirNotes) {
  EngineState st;
  for (const char* v : {"003", "005", "008"}) {
    PendingMigration m;
    m.version = v;
    st.pending.push_back(m);
  }
  PendingBackfill mine, later;
  mine.version = "005";
  mine.note = "migration 005_fill is a backfill of users";
  later.version = "008";
  later.note = "migration 008_fill is a backfill of orders";
  st.backfills = {mine, later};
  st.notes = {"an unrelated note", mine.note, later.note};
  auto capped = CapPendingAt(std::make_unique<FixedStateEngine>(st), "005");
  auto seen = capped->Observe(nullptr);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  ASSERT_EQ(seen->pending.size(), 2u);
  ASSERT_EQ(seen->backfills.size(), 1u);
  EXPECT_EQ(seen->backfills[0].version, "005");
  EXPECT_EQ(seen->notes, (std::vector<std::string>{"an unrelated note", mine.note}));
}

TEST(UpgradePath, StepSpecRetagsSpecImageAndKeepsTheSpecHash) {
  SchemaUpgrade su;
  su.target_version = "v1.2.0";
  su.image = "quay.io:443/oryd/kratos:v1.2.0";
  su.spec_hash = "h";
  SchemaUpgrade s = StepSpec(su, {"v1.1.5", ""});
  EXPECT_EQ(s.target_version, "v1.1.5");
  EXPECT_EQ(s.image, "quay.io:443/oryd/kratos:v1.1.5");
  EXPECT_EQ(s.spec_hash, "h");
}

class ReconcilerPathTest : public ReconcilerFixture {
 protected:
  void SetUp() override {
    ReconcilerFixture::SetUp();
    // v1.1.0 -> v1.2.0 passes v1.1.5, whose release needs the folder up to 20240201000002.
    su_.upgrade_path = {{"v1.1.5", "20240201000002"}};
  }
};

TEST_F(ReconcilerPathTest, AJumpOverAPathReleaseIsRefusedBeforeAnyChangeNamingThePath) {
  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "UpgradePathRequired");
  EXPECT_TRUE(out.terminal);
  ExpectWorldUntouched();
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kFailed);
  EXPECT_EQ(Cond(st, "Stalled"), "True/UpgradePathRequired");
  EXPECT_HAS(st.last_error, "v1.1.0 -> v1.2.0 would skip v1.1.5");
  EXPECT_HAS(st.last_error, "Take the path v1.1.0 -> v1.1.5 -> v1.2.0");
  EXPECT_HAS(st.last_error, "spec.policy.stepThrough: true");
  EXPECT_HAS(st.last_error, "nothing was changed");
  ASSERT_TRUE(out.plan.has_value());
  EXPECT_EQ(out.plan->path_skipped, (std::vector<std::string>{"v1.1.5"}));
  ASSERT_EQ(out.plan->path.size(), 2u) << "the path to take, as data";
  EXPECT_EQ(out.plan->path[0].version, "v1.1.5");
  EXPECT_EQ(out.plan->path[0].migrations_up_to, "20240201000002");
  EXPECT_EQ(out.plan->path[1].version, "v1.2.0");
}

TEST_F(ReconcilerPathTest, AnUpgradeFromThePathReleaseOnIsNotRefused) {
  rt_.declared = kMidImage;
  rt_.running_image = kMidImage;
  auto out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerPathTest, StepThroughMigratesBumpsAndVerifiesEachReleaseInOrder) {
  su_.policy.step_through = true;

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(journal_, (std::vector<std::string>{"apply", "set-image:" + std::string(kMidImage), "rollout", "verify",
                                                "apply", "set-image:" + std::string(kNewImage), "rollout", "verify"}));
  ASSERT_EQ(world_.apply_contexts.size(), 2u);
  EXPECT_EQ(world_.apply_contexts[0].up_to, "20240201000002") << "step 1 applies only its release's migrations";
  EXPECT_EQ(world_.apply_contexts[1].up_to, "") << "the target applies the rest";
  EXPECT_EQ(verified_images_, (std::vector<std::string>{kMidImage, kNewImage}));
  EXPECT_EQ(engine_images_.front(), kMidImage) << "an image source reads the step's own image";
  ASSERT_EQ(world_.applied.size(), 4u);  // each migration once
  EXPECT_TRUE(world_.pending.empty());
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(st.target_version, "v1.2.0");
  EXPECT_EQ(st.path_done, (std::vector<std::string>{"v1.1.5"}));
  EXPECT_EQ(st.path_step, "");
  ASSERT_EQ(st.applied.size(), 3u);
  EXPECT_EQ(AuditRecords("path-step"), 2);  // started, succeeded
  EXPECT_EQ(EventsWithReason("SteppedThrough"), 1);
}

TEST_F(ReconcilerPathTest, PlanOfAStepThroughShowsTheFirstStepOnly) {
  su_.policy.step_through = true;
  ReconcileOptions dry;
  dry.dry_run = true;
  auto out = Run(dry);
  ASSERT_TRUE(out.plan.has_value());
  EXPECT_EQ(out.plan->target_version, "v1.1.5");
  EXPECT_EQ(out.plan->state.pending.size(), 2u) << "the step's migrations, not the folder's";
  std::string pre;
  for (const auto& p : out.plan->preflight) pre += p + "\n";
  EXPECT_HAS(pre, "this step goes v1.1.0 -> v1.1.5 (migrations up to 20240201000002); then -> v1.2.0");
  ExpectWorldUntouched();
  // The path as data (plan -o json / markdown): each release, its image, its migrations.
  ASSERT_EQ(out.plan->path.size(), 2u);
  EXPECT_EQ(out.plan->path[0].version, "v1.1.5");
  EXPECT_EQ(out.plan->path[0].image, kMidImage);
  EXPECT_EQ(out.plan->path[0].migrations_up_to, "20240201000002");
  EXPECT_TRUE(out.plan->path[0].current);
  EXPECT_EQ(out.plan->path[0].migrations,
            (std::vector<std::string>{"20240201000001 identities", "20240201000002 sessions"}));
  EXPECT_EQ(out.plan->path[1].version, "v1.2.0");
  EXPECT_EQ(out.plan->path[1].image, kNewImage);
  EXPECT_FALSE(out.plan->path[1].current);
  const std::string json = RenderPlanJson(*out.plan);
  EXPECT_HAS(json, "\"upgradePath\":[{\"current\":true,\"image\":\"" + std::string(kMidImage) + "\"");
  const std::string md = RenderPlanMarkdown(*out.plan);
  EXPECT_HAS(md, "| 1 | v1.1.5 | `" + std::string(kMidImage) +
                     "` | **this step:** 20240201000001 identities, 20240201000002 sessions |");
  EXPECT_HAS(md, "| 2 | v1.2.0 | `" + std::string(kNewImage) + "` | the rest |");
}

TEST_F(ReconcilerPathTest, AnApprovalWaitNamesTheStepAndItsPlanHash) {
  su_.policy.step_through = true;
  su_.policy.approval_required = true;
  ReconcileOptions dry;
  dry.dry_run = true;
  auto plan = Run(dry);
  ASSERT_TRUE(plan.plan.has_value());
  const std::string step1 = plan.plan->hash;

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, "AwaitingApproval");
  ExpectWorldUntouched();
  ResourceStatus st = Stored();
  EXPECT_HAS(st.message, "plan " + step1 + " needs approval (step v1.1.5 of the upgrade path v1.1.0 -> v1.1.5 -> "
                         "v1.2.0: each release's plan needs its own approval once it is the current step)");
  EXPECT_HAS(st.message, "spec.policy.approval.planHash: " + step1);
  // The status names the waiting step as the message does (kubectl get su -o yaml, `status`).
  EXPECT_EQ(st.path_step, "v1.1.5");
  EXPECT_EQ(st.path_step_started_at, "") << "waiting at its gate: not started";
  EXPECT_TRUE(st.path_done.empty());
  EXPECT_HAS(RenderStatusText(st), "  path:        step v1.1.5 (not started)\n");
  EXPECT_EQ(AuditRecords("path-step"), 0) << "a step waiting for approval has not started";

  // Approved: step 1 runs, and the next release waits for its own approval, saying so.
  su_.policy.approved_plan_hash = step1;
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, "AwaitingApproval");
  EXPECT_EQ(verified_images_, (std::vector<std::string>{kMidImage}));
  st = Stored();
  EXPECT_EQ(st.path_done, (std::vector<std::string>{"v1.1.5"}));
  EXPECT_HAS(st.message, "of this step needs its own approval (the approved plan " + step1 + " is another step's");
  EXPECT_HAS(st.message, "(step v1.2.0 of the upgrade path v1.1.0 -> v1.1.5 -> v1.2.0: each release's plan");
  EXPECT_EQ(st.path_step, "v1.2.0") << "the target is the path's step now";
  EXPECT_EQ(st.path_step_started_at, "");
  const std::string step2 = st.plan_hash;
  EXPECT_NE(step2, step1);
  EXPECT_HAS(st.message, "spec.policy.approval.planHash: " + step2);
  EXPECT_HAS(RenderStatusText(st), "  path:        step v1.2.0 (not started); done v1.1.5\n");
  EXPECT_EQ(AuditRecords("path-step"), 2) << "step 1 started once (not when it was named), and succeeded";

  // Approving the second step finishes the path; the step is cleared with the rest.
  su_.policy.approved_plan_hash = step2;
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(verified_images_, (std::vector<std::string>{kMidImage, kNewImage}));
  st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(st.path_step, "");
  EXPECT_EQ(st.path_step_started_at, "");
  EXPECT_EQ(AuditRecords("path-step"), 2);
}

// A step that started is not started again when a later pass resumes it: stepStartedAt is kept
// through a gate's wait (here a closed window), and the audit row is written once.
TEST_F(ReconcilerPathTest, AStepStartedBeforeAWaitIsNotStartedAgain) {
  su_.policy.step_through = true;
  cancelled_ = [this] { return world_.applies > 0; };  // stop step 1 right after it migrated
  (void)Run();
  cancelled_ = nullptr;
  ResourceStatus st = Stored();
  EXPECT_EQ(st.path_step, "v1.1.5");
  EXPECT_NE(st.path_step_started_at, "");
  const std::string started = st.path_step_started_at;
  EXPECT_EQ(AuditRecords("path-step"), 1);

  clock_.Advance(std::chrono::hours(1));
  su_.policy.window = MaintenanceWindow{"02:00", "04:00", "UTC", {}};  // closed at 11:00 UTC
  auto out = Run();
  EXPECT_EQ(out.reason, "OutsideMaintenanceWindow");
  st = Stored();
  EXPECT_EQ(st.path_step, "v1.1.5");
  EXPECT_EQ(st.path_step_started_at, started);

  clock_.Set(At("2026-03-03T02:30:00Z"));  // the window is open
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(AuditRecords("path-step"), 2) << "started once, succeeded once";
}

// Each step's approval is recorded as the one its work runs under (status.approvedPlan), so the
// second step, stopped after migrating, resumes under its own approval: its remaining plan
// (bump only) has another hash, which the recorded approval covers. Before, the first step's
// record stayed, and the resumed second step waited for a new approval.
TEST_F(ReconcilerPathTest, ASecondStepStoppedAfterMigratingResumesUnderItsOwnApproval) {
  su_.policy.step_through = true;
  su_.policy.approval_required = true;
  ReconcileOptions dry;
  dry.dry_run = true;
  su_.policy.approved_plan_hash = Run(dry).plan->hash;
  ASSERT_EQ(Run().reason, "AwaitingApproval");  // step 1 done, the second waits
  su_.policy.approved_plan_hash = Stored().plan_hash;
  cancelled_ = [this] { return world_.applies > 1; };  // stop the second step after migrating
  auto stopped = Run();
  ASSERT_EQ(world_.applies, 2);
  ASSERT_TRUE(world_.pending.empty());
  cancelled_ = nullptr;
  clock_.Advance(stopped.requeue_after);

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString() << "\n" << Stored().message;
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
  EXPECT_EQ(rt_.set_calls, (std::vector<std::string>{kMidImage, kNewImage}));
}

TEST_F(ReconcilerPathTest, AStepKilledBetweenBumpAndVerifyIsVerifiedOnResumeAndNothingRunsTwice) {
  su_.policy.step_through = true;
  // The dead pass had migrated step 1 and bumped the workload to v1.1.5, not verified it.
  world_.MarkApplied(2);
  rt_.declared = kMidImage;
  rt_.running_image = kMidImage;
  ResourceStatus snapshot;
  snapshot.resource = su_.Key();
  snapshot.spec_hash = StatusSpecToken(su_);
  snapshot.phase = Phase::kBumping;
  snapshot.path_step = "v1.1.5";
  snapshot.start_version = "20240101000001";
  snapshot.start_image = kOldImage;
  snapshot.previous_image = kOldImage;
  ReplaceStoreWith(snapshot);

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(verified_images_, (std::vector<std::string>{kMidImage, kNewImage})) << "v1.1.5 is verified first";
  EXPECT_EQ(journal_, (std::vector<std::string>{"verify", "apply", "set-image:" + std::string(kNewImage), "rollout",
                                                "verify"}));
  ASSERT_EQ(world_.apply_contexts.size(), 1u) << "step 1 had nothing left to apply";
  EXPECT_EQ(world_.applied.size(), 4u);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(st.path_done, (std::vector<std::string>{"v1.1.5"}));
}

TEST_F(ReconcilerPathTest, AStepKilledAfterMigratingBumpsWithoutMigratingAgain) {
  su_.policy.step_through = true;
  world_.MarkApplied(2);  // step 1's migrations applied, the image not bumped yet
  ResourceStatus snapshot;
  snapshot.resource = su_.Key();
  snapshot.spec_hash = StatusSpecToken(su_);
  snapshot.phase = Phase::kMigrating;
  snapshot.path_step = "v1.1.5";
  snapshot.start_version = "20240101000001";
  ReplaceStoreWith(snapshot);

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(journal_, (std::vector<std::string>{"set-image:" + std::string(kMidImage), "rollout", "verify", "apply",
                                                "set-image:" + std::string(kNewImage), "rollout", "verify"}));
  EXPECT_EQ(world_.applied.size(), 4u);
}

TEST_F(ReconcilerPathTest, AFailedStepStopsThePathThere) {
  su_.policy.step_through = true;
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1")};

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "VerifyFailed");
  EXPECT_EQ(journal_, (std::vector<std::string>{"apply", "set-image:" + std::string(kMidImage), "rollout", "verify"}));
  ResourceStatus st = Stored();
  EXPECT_EQ(st.path_step, "v1.1.5");
  EXPECT_TRUE(st.path_done.empty());
  EXPECT_EQ(st.target_version, "v1.2.0");
}

class ReconcilerRollbackTest : public ReconcilerFixture {
 protected:
  // "<status> <detail>" of the last audit row the reconciler wrote with `direction`.
  std::string LastAudit(const std::string& direction) const {
    std::string last = "(none)";
    for (const auto& st : db_.Statements()) {
      if (st.sql.find("INSERT INTO \"public\".\"schema_upgrade_log\"") == std::string::npos) continue;
      if (st.params.size() > 13 && st.params[4] == direction) last = st.params[6].value_or("") + " " + st.params[13].value_or("");
    }
    return last;
  }
};

TEST_F(ReconcilerRollbackTest, RollbackPutsTheImageBackFirstThenTheSchemaByDownMigrations) {
  su_.policy.on_failure = OnFailure::kRollback;
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1 (schema mismatch)")};

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "VerifyFailed");
  EXPECT_EQ(journal_, (std::vector<std::string>{"apply", "set-image:" + std::string(kNewImage), "rollout", "verify",
                                                "set-image:" + std::string(kOldImage), "rollout", "verify",
                                                "rollback:20240101000001"}))
      << "image back (and up) first, then the schema";
  EXPECT_EQ(rt_.declared, kOldImage);
  EXPECT_EQ(world_.applied.size(), 1u);
  ResourceStatus st = Stored();
  EXPECT_HAS(st.failure_action, "rollback: rollbackImage: image restored to " + std::string(kOldImage));
  EXPECT_HAS(st.failure_action, "then the schema: runDown: 3 migration(s) rolled back");
  EXPECT_EQ(st.current_version, "20240101000001");
  EXPECT_EQ(AuditRecords("rollback"), 2);  // started, succeeded
  EXPECT_EQ(AuditRecords("rollback-image"), 1);
  EXPECT_EQ(EventsWithReason("SchemaRolledBack"), 1);
}

TEST_F(ReconcilerRollbackTest, RollbackRestoresTheBackupWhenTheEngineHasNoDownMigrations) {
  su_.migrations.engine = "ory";
  su_.policy.backup_enabled = true;
  su_.policy.on_failure = OnFailure::kRollback;
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1")};

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  ASSERT_EQ(backup_.backup_paths.size(), 1u);
  EXPECT_EQ(journal_, (std::vector<std::string>{"backup", "apply", "set-image:" + std::string(kNewImage), "rollout",
                                                "verify", "set-image:" + std::string(kOldImage), "rollout", "verify",
                                                "restore:" + backup_.backup_paths[0]}));
  EXPECT_EQ(world_.rollbacks, 0);
  EXPECT_HAS(Stored().failure_action, "then the schema: restoreBackup: database restored from");
}

// Structured results (undo.h): the combined rollback decides from each step's outcome kind, not
// from the words in its sentence. A sentence that merely contains "FAILED" (the old image's logs,
// a backup folder's name) must not change what is done or how it is recorded.
TEST_F(ReconcilerRollbackTest, RollbackUndoesTheSchemaEvenWhenTheOldImagesLogSaysFailed) {
  su_.policy.on_failure = OnFailure::kRollback;
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1"),
                     Status::Failed("ciam-kratos: courier: SMTP connection FAILED, retrying")};

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(rt_.declared, kOldImage);
  EXPECT_EQ(journal_.back(), "rollback:20240101000001") << "the image is declared back: the schema follows it";
  EXPECT_EQ(world_.applied.size(), 1u);
  ResourceStatus st = Stored();
  EXPECT_HAS(st.failure_action, "image restored to " + std::string(kOldImage) + ", but it did not come up");
  EXPECT_HAS(st.failure_action, "then the schema: runDown: 3 migration(s) rolled back");
  EXPECT_EQ(AuditRecords("rollback"), 2);
  EXPECT_EQ(EventsWithReason("SchemaRolledBack"), 1);
}

TEST_F(ReconcilerRollbackTest, ARestoredBackupCountsAsSucceededWhateverItsPathSays) {
  su_.migrations.engine = "ory";
  su_.policy.backup_enabled = true;
  su_.policy.backup_dir = "/srv/REFUSED-and-FAILED/backups";  // words only, in a folder name
  su_.policy.on_failure = OnFailure::kRollback;
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1")};

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  ASSERT_EQ(backup_.restore_paths.size(), 1u);
  EXPECT_HAS(Stored().failure_action, "then the schema: restoreBackup: database restored from /srv/REFUSED-and-FAILED");
  EXPECT_EQ(EventsWithReason("SchemaRolledBack"), 1) << "a restore that succeeded is a rolled-back schema";
  EXPECT_EQ(AuditRecords("rollback"), 2);
  EXPECT_HAS(LastAudit("rollback"), "succeeded");
}

TEST_F(ReconcilerRollbackTest, ADownFileThatFailsPartWayStopsTheRollbackAndSaysSo) {
  su_.policy.on_failure = OnFailure::kRollback;
  su_.policy.backup_enabled = true;  // not used: the down files already changed the database
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1")};
  RunReport partial;
  partial.steps.push_back({"20240201000003", "courier", 3, 1});
  partial.status = Status::Error(Code::kDatabase, "20240201000002_sessions.down.sql: relation \"sessions\" does not exist");
  world_.rollback_script.push_back(partial);

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(rt_.declared, kOldImage) << "the image went back first";
  EXPECT_TRUE(backup_.restore_paths.empty()) << "a partly undone schema is not overwritten by the backup";
  ResourceStatus st = Stored();
  EXPECT_HAS(st.failure_action, "rollback: rollbackImage: image restored to " + std::string(kOldImage));
  EXPECT_HAS(st.failure_action, "then the schema: runDown FAILED after 1 migration(s) rolled back (20240201000003)");
  EXPECT_HAS(st.failure_action, "relation \"sessions\" does not exist");
  EXPECT_EQ(EventsWithReason("SchemaRolledBack"), 0);
  EXPECT_HAS(LastAudit("rollback"), "failed");
}

TEST_F(ReconcilerRollbackTest, AFirstDownFileThatFailsChangedNothingSoTheBackupIsRestored) {
  su_.policy.on_failure = OnFailure::kRollback;
  su_.policy.backup_enabled = true;
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1")};
  RunReport failed;
  failed.status = Status::Error(Code::kDatabase, "20240201000003_courier.down.sql: syntax error at or near \"DROPP\"");
  world_.rollback_script.push_back(failed);

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  ASSERT_EQ(backup_.restore_paths.size(), 1u) << "the down file rolled back in its own transaction: the backup next";
  ResourceStatus st = Stored();
  EXPECT_HAS(st.failure_action, "then the schema: restoreBackup: database restored from");
  EXPECT_HAS(st.failure_action, "(down migrations refused: runDown FAILED after 0 migration(s) rolled back");
  EXPECT_EQ(EventsWithReason("SchemaRolledBack"), 1);
  EXPECT_HAS(LastAudit("rollback"), "succeeded");
}

TEST_F(ReconcilerRollbackTest, ABackupRestoreThatFailsLeavesTheSchemaAndSaysWhatToDo) {
  su_.migrations.engine = "ory";
  su_.policy.backup_enabled = true;
  su_.policy.on_failure = OnFailure::kRollback;
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1")};
  backup_.restore_errors.push_back(Status::Error(Code::kDatabase, "must be owner of table identities"));

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(rt_.declared, kOldImage);
  ASSERT_EQ(backup_.restore_paths.size(), 1u);
  ResourceStatus st = Stored();
  EXPECT_HAS(st.failure_action, "then the schema: restoreBackup from ");
  EXPECT_HAS(st.failure_action, " FAILED: ");
  EXPECT_HAS(st.failure_action, "must be owner of table identities; nothing was restored");
  EXPECT_HAS(st.failure_action, "(engine ory has no down migrations)");
  EXPECT_EQ(EventsWithReason("SchemaRolledBack"), 0);
  EXPECT_HAS(LastAudit("rollback"), "failed");
}

TEST_F(ReconcilerRollbackTest, AnImageThatCannotBePutBackLeavesTheSchemaAlone) {
  su_.policy.on_failure = OnFailure::kRollback;
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1")};
  rt_.set_errors.push_back(Status::Ok());  // the bump
  rt_.set_errors.push_back(Status::Io("docker-compose.yml: read-only file system"));

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(world_.rollbacks, 0) << "the new version would meet the old schema";
  EXPECT_EQ(world_.applied.size(), 4u);
  ResourceStatus st = Stored();
  EXPECT_HAS(st.failure_action, "rollbackImage to " + std::string(kOldImage) + " FAILED");
  EXPECT_HAS(st.failure_action, "the schema was left as it is");
  EXPECT_HAS(LastAudit("rollback"), "failed");
}

TEST_F(ReconcilerRollbackTest, RollbackBetweenExpandAndContractPutsOnlyTheImageBack) {
  su_.policy.on_failure = OnFailure::kRollback;
  world_.pending[2] = AsContract(world_.pending[2]);
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1")};

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(rt_.declared, kOldImage) << "the image back";
  EXPECT_EQ(world_.rollbacks, 0) << "the expand migrations are backward compatible: kept";
  EXPECT_TRUE(backup_.restore_paths.empty());
  EXPECT_EQ(world_.applied.size(), 3u);
  ResourceStatus st = Stored();
  EXPECT_HAS(st.failure_action, "rollbackImage: image restored to " + std::string(kOldImage));
  EXPECT_HAS(st.failure_action, "rollback left the schema alone: expand/contract upgrade");
  EXPECT_HAS(st.failure_action, "the database stays at 20240201000002");
  EXPECT_EQ(AuditRecords("rollback-image"), 1);
}

TEST_F(ReconcilerRollbackTest, RollbackThatCanUndoTheSchemaNeitherWayIsRefusedUpFront) {
  su_.policy.on_failure = OnFailure::kRollback;
  world_.pending[1].has_down = false;

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "RollbackImpossible");
  ExpectWorldUntouched();
  EXPECT_HAS(Stored().last_error, "migration(s) 20240201000002_sessions have no .down.sql file");
  EXPECT_HAS(Stored().last_error, "policy.backup.enabled is false");
}

TEST_F(ReconcilerRollbackTest, RollbackWithABackupNeedsNoDownFiles) {
  su_.policy.on_failure = OnFailure::kRollback;
  su_.policy.backup_enabled = true;
  world_.pending[1].has_down = false;
  auto out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
}

TEST_F(ReconcilerRollbackTest, RollbackAfterAStepThroughPutsThePreUpgradeImageBack) {
  su_.upgrade_path = {{"v1.1.5", "20240201000002"}};
  su_.policy.step_through = true;
  su_.policy.on_failure = OnFailure::kRollback;
  verify_results_ = {Status::Ok(), Status::Failed("ciam-kratos exited with code 1")};

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(rt_.set_calls, (std::vector<std::string>{kMidImage, kNewImage, kOldImage}))
      << "back to the image before the upgrade, not the step's";
  EXPECT_EQ(world_.rollback_to, (std::vector<std::string>{"20240101000001"})) << "the schema before the upgrade";
  EXPECT_EQ(world_.applied.size(), 1u);
  EXPECT_EQ(journal_.back(), "rollback:20240101000001");
}

}  // namespace
}  // namespace su::testing
