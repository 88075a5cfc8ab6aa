// Reconciler failures: transient ones back off and retry (Stalled past retries.limit); permanent ones run
// policy.onFailure once and stall until the spec changes or someone asks again. Backups.
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ReconcilerFailureTest : public ReconcilerFixture {
 protected:
  static RunReport Failed(Status s, std::vector<AppliedStep> steps = {}) {
    RunReport r;
    r.status = std::move(s);
    r.steps = std::move(steps);
    if (!r.status.ok()) {
      r.failed_version = "20240201000002";
      r.failed_statement_index = 1;
    }
    return r;
  }
  static Status SqlError() {
    return Status::Database("20240201000002_sessions.up.sql: statement 1 (line 1): relation \"sessions\" already exists",
                            "42P07");
  }
};

TEST_F(ReconcilerFailureTest, UnreachableDatabaseBacksOffDoublingUpToMaxThenStallsAndKeepsRetrying) {
  for (int i = 0; i < 10; ++i) db_.connect_results.push_back(Status::Error(Code::kUnavailable, "connection refused"));
  auto t0 = clock_.Now();

  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kUnavailable);
  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(out.requeue_after, seconds(5));
  ResourceStatus st = Stored();
  EXPECT_EQ(st.attempts, 1);
  EXPECT_EQ(st.next_retry_at, FormatTime(t0 + seconds(5)));
  EXPECT_EQ(Cond(st, "Reconciling"), "True/DatabaseUnavailable");
  EXPECT_EQ(Cond(st, "Ready"), "False/DatabaseUnavailable");
  EXPECT_EQ(Cond(st, "Stalled"), "False/DatabaseUnavailable");
  EXPECT_NE(st.last_error.find("connection refused"), std::string::npos);

  // Before next_retry_at: nothing is tried; the remaining wait is returned.
  clock_.Advance(seconds(2));
  out = Run();
  EXPECT_EQ(db_.connects(), 1);
  EXPECT_EQ(out.requeue_after, seconds(3));
  EXPECT_EQ(Stored().attempts, 1);

  // force ignores the backoff.
  ReconcileOptions force;
  force.force = true;
  out = Run(force);
  EXPECT_EQ(db_.connects(), 2);
  EXPECT_EQ(Stored().attempts, 2);
  EXPECT_EQ(out.requeue_after, seconds(10));
  EXPECT_EQ(Stored().next_retry_at, FormatTime(clock_.Now() + seconds(10)));

  clock_.Advance(seconds(10));
  out = Run();
  EXPECT_EQ(db_.connects(), 3);
  EXPECT_EQ(Stored().attempts, 3);
  EXPECT_EQ(out.requeue_after, seconds(12)) << "capped at max_backoff";

  clock_.Advance(seconds(12));
  out = Run();  // attempt 4 > limit 3: Stalled (for alerts), but a transient failure is retried
  EXPECT_EQ(db_.connects(), 4);
  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(out.requeue_after, seconds(12)) << "retried at max_backoff";
  st = Stored();
  EXPECT_EQ(st.phase, Phase::kPending);
  EXPECT_EQ(Cond(st, "Stalled"), "True/RetriesExhausted");
  EXPECT_EQ(Cond(st, "Reconciling"), "False/RetriesExhausted");
  EXPECT_EQ(st.next_retry_at, FormatTime(clock_.Now() + seconds(12)));
  EXPECT_NE(FindCondition(st, "Stalled")->message.find("still failing after 4 attempts"), std::string::npos)
      << FindCondition(st, "Stalled")->message;

  // Later passes keep trying at max_backoff.
  clock_.Advance(seconds(3600));
  out = Run();
  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(db_.connects(), 5);
  EXPECT_EQ(out.requeue_after, seconds(12));
  EXPECT_EQ(world_.applies, 0);
}

// Regression (fixed; was reconciler.cc LoadStatus/Retry: attempts survive a forced run): after
// RetriesExhausted, `schema-upgrade apply` (force) gets a single try: attempts is already above
// the limit, so its first transient failure stalls again at once ("gave up after 5 attempts")
// with no backoff retries. Expected (reconciler.h: "stays so until ... someone asks again"): an
// explicit retry starts a fresh retry budget, like a new olympus.io/retry value does.
TEST_F(ReconcilerFailureTest, ForcedRunAfterRetriesExhaustedGetsAFreshRetryBudget) {
  for (int i = 0; i < 10; ++i) db_.connect_results.push_back(Status::Error(Code::kUnavailable, "connection refused"));
  for (int i = 0; i < 4; ++i) {
    auto out = Run();
    clock_.Advance(out.requeue_after);
  }
  ASSERT_EQ(Cond(Stored(), "Stalled"), "True/RetriesExhausted");
  ReconcileOptions force;
  force.force = true;

  auto out = Run(force);

  EXPECT_EQ(db_.connects(), 5);
  if (out.terminal) {
    FAIL() << "regression: forced run stalled again at once: " << Stored().last_error;
  }
  EXPECT_EQ(Stored().attempts, 1);
  EXPECT_EQ(Cond(Stored(), "Reconciling"), "True/DatabaseUnavailable");
}

TEST_F(ReconcilerFailureTest, LockTimeoutInsideAMigrationIsRetriedThenSucceeds) {
  world_.apply_script = {Failed(Status::Error(Code::kLockTimeout, "lock_timeout on sessions after 5 retries"))};

  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kLockTimeout);
  EXPECT_EQ(out.requeue_after, seconds(5));
  EXPECT_EQ(Cond(Stored(), "Reconciling"), "True/MigrationRetryable");
  EXPECT_EQ(Stored().attempts, 1);
  EXPECT_TRUE(rt_.set_calls.empty());
  EXPECT_EQ(db_.lock_holder(), 0) << "the lock is released on failure";

  clock_.Advance(out.requeue_after);
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 2);
  EXPECT_EQ(Stored().attempts, 0);
  EXPECT_EQ(Stored().last_error, "");
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerFailureTest, EngineLockBusyIsTransient) {
  world_.apply_script = {Failed(Status::Error(Code::kLockBusy, "another migrator runs"))};
  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kLockBusy);
  EXPECT_EQ(Stored().attempts, 1);
  EXPECT_EQ(Cond(Stored(), "Stalled"), "False/MigrationRetryable");
  EXPECT_FALSE(out.terminal);
}

TEST_F(ReconcilerFailureTest, MigrationLockHeldElsewhereIsRetriedWithoutApplying) {
  db_.lock_available = false;
  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kLockBusy);
  EXPECT_EQ(world_.applies, 0);
  EXPECT_EQ(Cond(Stored(), "Reconciling"), "True/LockBusy");
  EXPECT_GE(db_.CountContaining("pg_try_advisory_lock"), 2) << "the lock is polled until lock_wait";

  db_.lock_available = true;
  clock_.Advance(out.requeue_after);
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 1);
}

TEST_F(ReconcilerFailureTest, TransientObserveFailureIsRetried) {
  world_.observe_errors = {Status::Error(Code::kTimeout, "status command timed out")};
  auto out = Run();
  EXPECT_EQ(Cond(Stored(), "Reconciling"), "True/ObserveFailed");
  EXPECT_EQ(out.requeue_after, seconds(5));
  world_.observe_errors = {Status::Invalid("migrations folder has two files for version 2")};
  clock_.Advance(out.requeue_after);
  out = Run();
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(Cond(Stored(), "Stalled"), "True/InvalidMigrations");
}

TEST_F(ReconcilerFailureTest, PermanentMigrationFailureHaltsStallsAndWaitsForARetryAnnotation) {
  world_.apply_script = {Failed(SqlError(), {{"20240201000001", "identities", 4, 2}})};

  auto out = Run();

  EXPECT_EQ(out.result.code(), Code::kDatabase);
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(out.requeue_after.count(), 0);
  EXPECT_TRUE(rt_.set_calls.empty()) << "no bump after a failed migration";
  EXPECT_EQ(rt_.rollouts, 0);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kFailed);
  EXPECT_EQ(Cond(st, "Stalled"), "True/MigrationFailed");
  EXPECT_EQ(Cond(st, "Ready"), "False/MigrationFailed");
  EXPECT_EQ(st.failure_action.rfind("halt", 0), 0u) << st.failure_action;
  EXPECT_NE(st.last_error.find("already exists"), std::string::npos);
  ASSERT_EQ(st.applied.size(), 1u);  // what did apply before the failure is recorded
  EXPECT_EQ(st.current_version, "20240201000001");
  EXPECT_EQ(AuditRecords("on-failure"), 1);
  EXPECT_EQ(EventsWithReason("MigrationFailed"), 1);

  // Without force nothing happens, however long we wait.
  clock_.Advance(seconds(86400));
  out = Run();
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(db_.connects(), 1);

  // A new olympus.io/retry value: try again.
  su_.annotations[kRetryAnnotation] = "2026-03-03T09:00";
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 2);
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{kNewImage});
}

// A migration Job that failed (Kubernetes: RunReport::retry_with_backoff) is retried with the
// policy's backoff up to retries.limit times in a row, then it is permanent (onFailure, Failed).
TEST_F(ReconcilerFailureTest, FailedMigrationJobIsRetriedWithBackoffThenPermanentAfterRetriesLimit) {
  su_.policy.retries.limit = 2;
  RunReport job_failed = Failed(Status::Failed("migration container kratos:v2 exited with code 1. Last output:\n"
                                               "migration 20240201000002 (backfill) failed and was rolled back"));
  job_failed.retry_with_backoff = true;
  world_.apply_script = {job_failed, job_failed, job_failed};
  auto t0 = clock_.Now();

  auto out = Run();
  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(out.requeue_after, seconds(5));
  ResourceStatus st = Stored();
  EXPECT_NE(st.phase, Phase::kFailed);
  EXPECT_EQ(st.attempts, 1);
  EXPECT_EQ(st.next_retry_at, FormatTime(t0 + seconds(5)));
  EXPECT_EQ(Cond(st, "Reconciling"), "True/MigrationRetryable");
  EXPECT_EQ(Cond(st, "Stalled"), "False/MigrationRetryable");
  EXPECT_NE(st.last_error.find("failed and was rolled back"), std::string::npos) << st.last_error;
  EXPECT_EQ(EventsWithReason("MigrationRetryable"), 1);
  EXPECT_TRUE(st.failure_action.empty()) << "onFailure waits until the failure is permanent";

  clock_.Advance(seconds(5));
  out = Run();
  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(out.requeue_after, seconds(10)) << "the backoff doubles";
  EXPECT_EQ(Stored().attempts, 2);
  EXPECT_EQ(world_.applies, 2);

  clock_.Advance(seconds(10));
  out = Run();
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(world_.applies, 3);
  st = Stored();
  EXPECT_EQ(st.phase, Phase::kFailed);
  EXPECT_EQ(Cond(st, "Stalled"), "True/MigrationFailed");
  EXPECT_NE(st.last_error.find("failed 3 times in a row (policy.retries.limit 2"), std::string::npos) << st.last_error;
  EXPECT_NE(st.last_error.find("failed and was rolled back"), std::string::npos) << st.last_error;
  EXPECT_EQ(st.failure_action.rfind("halt", 0), 0u) << st.failure_action;
  EXPECT_EQ(EventsWithReason("MigrationFailed"), 1);
  EXPECT_TRUE(rt_.set_calls.empty()) << "no bump after a failed migration";

  // Halted: nothing runs again until someone asks.
  clock_.Advance(seconds(86400));
  out = Run();
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(world_.applies, 3);
}

TEST_F(ReconcilerFailureTest, FailedMigrationJobThatSucceedsOnRetryConverges) {
  RunReport job_failed = Failed(Status::Failed("migration container kratos:v2 exited with code 137 (OOMKilled)"));
  job_failed.retry_with_backoff = true;
  world_.apply_script = {job_failed};
  auto out = Run();
  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(Stored().attempts, 1);
  clock_.Advance(out.requeue_after);
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
  EXPECT_EQ(Stored().attempts, 0);
  EXPECT_EQ(EventsWithReason("MigrationFailed"), 0);
}

TEST_F(ReconcilerFailureTest, ForceRetriesAStalledFailure) {
  world_.apply_script = {Failed(SqlError())};
  ASSERT_TRUE(Run().terminal);
  ReconcileOptions force;
  force.force = true;
  auto out = Run(force);
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 2);
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerFailureTest, VerifyFailureWithRollbackImageRestoresThePreviousImage) {
  su_.policy.on_failure = OnFailure::kRollbackImage;
  verify_results_ = {Status::Failed("ciam-kratos exited with code 1 (schema mismatch)")};

  auto out = Run();

  EXPECT_EQ(out.result.code(), Code::kFailed);
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(rt_.set_calls, (std::vector<std::string>{kNewImage, kOldImage}));
  EXPECT_EQ(rt_.rollouts, 2);
  EXPECT_EQ(rt_.declared, kOldImage);
  EXPECT_EQ(rt_.running_image, kOldImage);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kFailed);
  EXPECT_EQ(Cond(st, "Stalled"), "True/VerifyFailed");
  EXPECT_NE(st.failure_action.find("rollbackImage: image restored to " + std::string(kOldImage)), std::string::npos)
      << st.failure_action;
  EXPECT_EQ(st.image, kOldImage);
  EXPECT_EQ(AuditRecords("rollback-image"), 1);
  EXPECT_EQ(EventsWithReason("ImageRolledBack"), 1);
  EXPECT_EQ(world_.rollbacks, 0) << "rollbackImage does not touch the database";
}

TEST_F(ReconcilerFailureTest, RollbackImageWhenTheImageWasNeverChangedSaysSo) {
  su_.policy.on_failure = OnFailure::kRollbackImage;
  world_.apply_script = {Failed(SqlError())};
  Run();
  EXPECT_TRUE(rt_.set_calls.empty());
  EXPECT_NE(Stored().failure_action.find("nothing to roll back"), std::string::npos) << Stored().failure_action;
}

TEST_F(ReconcilerFailureTest, RestoreBackupRestoresThisUpgradesBackup) {
  su_.policy.backup_enabled = true;
  su_.policy.on_failure = OnFailure::kRestoreBackup;
  world_.apply_script = {Failed(SqlError(), {{"20240201000001", "identities", 4, 2}})};

  auto out = Run();

  EXPECT_EQ(out.result.code(), Code::kDatabase);
  ASSERT_EQ(backup_.backup_paths.size(), 1u);
  EXPECT_EQ(backup_.restore_paths, backup_.backup_paths);
  EXPECT_EQ(backup_.dsns, (std::vector<std::string>{kDsn, kDsn}));
  EXPECT_EQ(journal_, (std::vector<std::string>{"backup", "apply", "restore:" + backup_.backup_paths[0]}));
  ResourceStatus st = Stored();
  EXPECT_NE(st.failure_action.find("restoreBackup: database restored from " + backup_.backup_paths[0]),
            std::string::npos)
      << st.failure_action;
  EXPECT_EQ(AuditRecords("restore"), 1);
  EXPECT_EQ(Cond(st, "Stalled"), "True/MigrationFailed");
}

// The restore runs under the policy's lock timeout and data-loss setting; a refusal (rows written
// since the backup) is recorded with the count and changes nothing more.
TEST_F(ReconcilerFailureTest, RestoreBackupPassesThePolicyAndReportsARefusal) {
  su_.policy.backup_enabled = true;
  su_.policy.on_failure = OnFailure::kRestoreBackup;
  su_.policy.lock_timeout = std::chrono::milliseconds(750);
  world_.apply_script = {Failed(SqlError(), {{"20240201000001", "identities", 4, 2}})};
  RestoreReport refused;
  refused.restored = false;
  refused.writes_since = 13;
  refused.writes_detail = "public.users: 13";
  backup_.restore_reports = {refused};

  Run();

  ASSERT_EQ(backup_.restore_options.size(), 1u);
  EXPECT_EQ(backup_.restore_options[0].lock_timeout, std::chrono::milliseconds(750));
  EXPECT_FALSE(backup_.restore_options[0].allow_data_loss);
  EXPECT_FALSE(backup_.restore_options[0].application_name.empty());
  ResourceStatus st = Stored();
  EXPECT_NE(st.failure_action.find("restoreBackup REFUSED: 13 row(s)"), std::string::npos) << st.failure_action;
  EXPECT_NE(st.failure_action.find("public.users: 13"), std::string::npos) << st.failure_action;
  ASSERT_TRUE(st.backup.has_value());
  EXPECT_EQ(st.backup->rows_written_since, 13);
  EXPECT_EQ(AuditRecords("restore"), 1);
  EXPECT_EQ(Cond(st, "Stalled"), "True/MigrationFailed");
}

// A lock the restore did not get is tried again until policy.lockWait, then reported as failed.
TEST_F(ReconcilerFailureTest, RestoreBackupRetriesALockTimeoutUntilLockWait) {
  su_.policy.backup_enabled = true;
  su_.policy.on_failure = OnFailure::kRestoreBackup;
  su_.policy.lock_wait = std::chrono::seconds(4);
  world_.apply_script = {Failed(SqlError(), {{"20240201000001", "identities", 4, 2}})};
  for (int i = 0; i < 10; ++i) backup_.restore_errors.push_back(Status::Error(Code::kLockTimeout, "lock timeout"));

  Run();

  EXPECT_EQ(backup_.restore_paths.size(), 3u);  // at 0 s, after 1 s and after 2 more (4 more would pass 4 s)
  ResourceStatus st = Stored();
  EXPECT_NE(st.failure_action.find("FAILED after 3 tries within policy.lockWait"), std::string::npos)
      << st.failure_action;
}

TEST_F(ReconcilerFailureTest, RestoreBackupWithoutABackupRestoresNothing) {
  su_.policy.on_failure = OnFailure::kRestoreBackup;
  world_.apply_script = {Failed(SqlError())};
  Run();
  EXPECT_TRUE(backup_.restore_paths.empty());
  EXPECT_NE(Stored().failure_action.find("no backup was taken"), std::string::npos) << Stored().failure_action;
}

// Regression (fixed; was reconciler.cc LoadStatus(), "fresh.backup = st_.backup", and RestoreBackup()): the backup
// record survives a spec change, and RestoreBackup() restores st_.backup without checking that it
// was taken for *this* upgrade. An upgrade that needs no migrations (image-only) and fails to
// verify under onFailure: restoreBackup restores the dump of an earlier upgrade, throwing away
// every write since. Expected: Restore not called ("no backup was taken for this upgrade").
TEST_F(ReconcilerFailureTest, RestoreBackupNeverRestoresABackupOfAnEarlierUpgrade) {
  su_.policy.backup_enabled = true;
  ASSERT_TRUE(Run().result.ok());
  ASSERT_EQ(backup_.backup_paths.size(), 1u);

  // Next upgrade: v1.2.1, image only (no migrations), verify fails.
  su_.target_version = "v1.2.1";
  su_.spec_hash = "spec-hash-2";
  su_.policy.on_failure = OnFailure::kRestoreBackup;
  verify_results_ = {Status::Failed("ciam-kratos v1.2.1 exited")};
  auto out = Run();
  ASSERT_EQ(out.result.code(), Code::kFailed);
  EXPECT_EQ(rt_.declared, kNewImage) << "the image is rolled back";

  if (!backup_.restore_paths.empty()) {
    FAIL() << "regression: restored " << backup_.restore_paths[0]
                 << ", the backup of the previous upgrade";
  }
  EXPECT_NE(Stored().failure_action.find("no backup"), std::string::npos) << Stored().failure_action;
}

TEST_F(ReconcilerFailureTest, RunDownRollsBackToThePreUpgradeVersion) {
  su_.policy.on_failure = OnFailure::kRunDown;
  verify_results_ = {Status::Failed("ciam-kratos exited")};

  auto out = Run();

  EXPECT_EQ(out.result.code(), Code::kFailed);
  EXPECT_EQ(world_.rollback_to, std::vector<std::string>{"20240101000001"});
  EXPECT_EQ(world_.applied.size(), 1u);
  EXPECT_EQ(world_.pending.size(), 3u);
  EXPECT_EQ(rt_.declared, kOldImage) << "runDown also puts the old image back";
  ResourceStatus st = Stored();
  EXPECT_NE(st.failure_action.find("runDown: 3 migration(s) rolled back (20240201000003, 20240201000002, "
                                   "20240201000001); the database is at 20240101000001"),
            std::string::npos)
      << st.failure_action;
  EXPECT_EQ(st.current_version, "20240101000001");
  EXPECT_TRUE(st.applied.empty()) << "rolled-back migrations leave the applied list";
}

// Regression (fixed; was reconciler.cc Migrate(): "lock->Release();" before "return OnFailure(...)", and Verify()
// -> OnFailure -> RunDown() after Migrate() has dropped the lock): down migrations run without the
// session advisory lock that every Apply holds, so another controller or a CLI `apply` can migrate
// the same database concurrently with the rollback. Expected: the lock is held (by the session
// passed to Rollback) while Engine::Rollback runs.
TEST_F(ReconcilerFailureTest, RunDownHoldsTheMigrationLock) {
  su_.policy.on_failure = OnFailure::kRunDown;
  world_.apply_script = {Failed(SqlError(), {{"20240201000001", "identities", 4, 2}})};
  int holder = -1;
  int session_pid = -1;
  world_.during_rollback = [&](Database* db, const RunContext&) {
    holder = db_.lock_holder();
    session_pid = db->BackendPid();
  };

  Run();

  ASSERT_EQ(world_.rollbacks, 1);
  if (holder == 0) FAIL() << "regression: Engine::Rollback ran without the migration lock";
  EXPECT_EQ(4000 + holder, session_pid);
}

TEST_F(ReconcilerFailureTest, RunDownFailureIsReported) {
  su_.policy.on_failure = OnFailure::kRunDown;
  world_.apply_script = {Failed(SqlError(), {{"20240201000001", "identities", 4, 2}})};
  world_.rollback_script = {Failed(Status::Invalid("20240201000001 has no down migration"))};
  Run();
  EXPECT_EQ(world_.rollback_to, std::vector<std::string>{"20240101000001"});
  EXPECT_NE(Stored().failure_action.find("FAILED"), std::string::npos) << Stored().failure_action;
  EXPECT_NE(Stored().failure_action.find("no down migration"), std::string::npos);
}

// Regression (fixed; was reconciler.cc RunDown(), "std::string to = plan_.db_version"): the pre-upgrade version is
// taken from this pass's plan, not from status. When the pass that migrated died (or was stopped)
// before verify, the next pass's plan already has the new version, so runDown rolls back to the
// new version, i.e. nothing. Expected: Rollback(to = 20240101000001), the version before this
// upgrade (derivable from status.applied, or recorded when migrating).
TEST_F(ReconcilerFailureTest, RunDownAfterAResumedPassStillRollsBackToThePreUpgradeVersion) {
  su_.policy.on_failure = OnFailure::kRunDown;
  cancelled_ = [this] { return world_.applies > 0; };  // stop right after migrating
  auto first = Run();
  ASSERT_EQ(world_.applies, 1);
  cancelled_ = nullptr;
  clock_.Advance(first.requeue_after);
  verify_results_ = {Status::Failed("ciam-kratos exited")};

  Run();

  ASSERT_EQ(world_.rollback_to.size(), 1u);
  if (world_.rollback_to[0] != "20240101000001") {
    FAIL() << "regression: runDown rolled back to " << world_.rollback_to[0];
  }
  EXPECT_EQ(world_.applied.size(), 1u);
}

TEST_F(ReconcilerFailureTest, BackupIsTakenOnceBeforeApplyAndNotRepeatedForTheSamePlan) {
  su_.policy.backup_enabled = true;
  Phase phase_during_backup = Phase::kPending;
  backup_.on_backup = [&] { phase_during_backup = Stored().phase; };
  world_.apply_script = {Failed(Status::Error(Code::kLockTimeout, "lock_timeout"))};

  auto out = Run();
  ASSERT_EQ(out.result.code(), Code::kLockTimeout);
  ASSERT_EQ(backup_.backup_paths.size(), 1u);
  EXPECT_EQ(phase_during_backup, Phase::kBackingUp) << "BackingUp is saved before the dump starts";
  EXPECT_EQ(journal_, (std::vector<std::string>{"backup", "apply"}));
  const std::string& path = backup_.backup_paths[0];
  EXPECT_EQ(path.rfind("/state/backups/ciam_kratos_", 0), 0u) << path;
  EXPECT_NE(path.find(Stored().plan_hash), std::string::npos) << path;
  EXPECT_TRUE(fs_.dirs().count("/state/backups"));
  ResourceStatus st = Stored();
  ASSERT_TRUE(st.backup.has_value());
  EXPECT_EQ(st.backup->path, path);
  EXPECT_EQ(st.backup->plan_hash, st.plan_hash);
  EXPECT_EQ(st.backup->size_bytes, 10);
  EXPECT_EQ(AuditRecords("backup"), 1);

  clock_.Advance(out.requeue_after);
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(backup_.backup_paths.size(), 1u) << "same plan hash, backup file still there: no second dump";
  EXPECT_EQ(world_.applies, 2);
}

TEST_F(ReconcilerFailureTest, BackupDirFromPolicyAndBackupFailureStopsBeforeMigrating) {
  su_.policy.backup_enabled = true;
  su_.policy.backup_dir = "/var/backups/su";
  backup_.backup_errors = {Status::Failed("pg_dump: server version mismatch")};
  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kFailed);
  ASSERT_EQ(backup_.backup_paths.size(), 1u);
  EXPECT_EQ(backup_.backup_paths[0].rfind("/var/backups/su/", 0), 0u);
  EXPECT_EQ(world_.applies, 0);
  EXPECT_EQ(Cond(Stored(), "Stalled"), "True/BackupFailed");
}

TEST_F(ReconcilerFailureTest, BackupEnabledWithoutABackupToolFails) {
  su_.policy.backup_enabled = true;
  ReconcilerDeps d = Deps();
  d.backup = nullptr;
  Reconciler r(d);
  auto out = r.Reconcile(su_);
  EXPECT_EQ(out.result.code(), Code::kInvalidArgument);
  EXPECT_EQ(world_.applies, 0);
  EXPECT_EQ(Cond(Stored(), "Stalled"), "True/BackupFailed");
}

// A status store that cannot read: the pass stops before touching anything.
class UnreadableStore : public StatusStore {
 public:
  Result<std::optional<ResourceStatus>> Load(const std::string& key) override {
    return Status::Invalid("/state/status/ciam__kratos.json: invalid JSON (delete the file to start afresh)");
  }
  Status Save(const std::string& key, const ResourceStatus& status) override {
    saved.push_back(status);
    return Status::Ok();
  }
  Result<std::map<std::string, ResourceStatus>> List() override { return std::map<std::string, ResourceStatus>{}; }
  std::vector<ResourceStatus> saved;
};

TEST_F(ReconcilerFailureTest, UnreadableStatusStopsThePassBeforeAnyChange) {
  UnreadableStore store;
  ReconcilerDeps d = Deps();
  d.store = &store;
  Reconciler r(d);
  auto out = r.Reconcile(su_);
  EXPECT_EQ(out.result.code(), Code::kInvalidArgument);
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(db_.connects(), 0);
  EXPECT_EQ(world_.applies, 0);
  EXPECT_TRUE(rt_.set_calls.empty());
  EXPECT_EQ(Cond(out.status, "Stalled"), "True/StatusUnreadable");
}

// Regression (fixed; was reconciler.cc LoadStatus() -> Fatal() -> Save()): when the stored status cannot be read,
// Fatal() saves a fresh status over it: the unreadable record (previous image, backup path,
// attempts) is replaced although the message tells the operator to inspect/delete the file, and
// the replacement has an empty `resource` (st_.resource is set only after a successful Load), so
// DirStatusStore::List() then files it under the key "". Expected: nothing is saved.
TEST_F(ReconcilerFailureTest, UnreadableStatusIsNotOverwritten) {
  UnreadableStore store;
  ReconcilerDeps d = Deps();
  d.store = &store;
  Reconciler r(d);
  r.Reconcile(su_);
  if (!store.saved.empty()) {
    FAIL() << "regression: saved over the unreadable status, resource=\"" << store.saved[0].resource
                 << "\"";
  }
}

TEST_F(ReconcilerFailureTest, PermanentBumpFailureRunsOnFailure) {
  su_.policy.on_failure = OnFailure::kHalt;
  rt_.set_errors = {Status::Invalid("compose file has no service ciam-kratos")};
  auto out = Run();
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(rt_.rollouts, 0);
  EXPECT_EQ(Cond(Stored(), "Stalled"), "True/BumpFailed");
}

}  // namespace
}  // namespace su::testing
