// Outages heal by themselves (issue 7, sections 3 and 4b): a resource Succeeded at its target
// stays Succeeded (Ready=Unknown) while its database is down, a transient failure past its retry
// budget is Stalled but still retried at the maximum backoff, status keeps the last observed
// version and image with their observation time, onFailure's action is never reported for a
// transient failure, and the migration lock is taken (and the world observed again) before the
// backup.
#include <gtest/gtest.h>

#include <functional>

#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ReconcilerOutageTest : public ReconcilerFixture {
 protected:
  void DatabaseDown(int passes = 100) {
    for (int i = 0; i < passes; ++i) {
      db_.connect_results.push_back(Status::Error(Code::kUnavailable, "connection refused"));
    }
  }
  void DatabaseUp() { db_.connect_results.clear(); }
};

// A clock whose SleepFor (the migration lock's poll) runs a hook: "while this run waited".
class HookedClock : public Clock {
 public:
  explicit HookedClock(FakeClock* base) : base_(base) {}
  TimePoint Now() override { return base_->Now(); }
  MonoTimePoint MonotonicNow() override { return base_->MonotonicNow(); }
  void SleepFor(std::chrono::milliseconds d) override {
    if (on_sleep) on_sleep();
    base_->Advance(d);
  }
  std::function<void()> on_sleep;

 private:
  FakeClock* base_;
};

TEST_F(ReconcilerOutageTest, SucceededResourceStaysSucceededWithReadyUnknownWhileItsDatabaseIsDown) {
  ASSERT_TRUE(Run().result.ok());
  ResourceStatus before = Stored();
  ASSERT_EQ(before.phase, Phase::kSucceeded);
  ASSERT_EQ(before.current_version, "20240201000003");
  ASSERT_EQ(before.observed_at, FormatTime(clock_.Now()));
  int applies = world_.applies;
  clock_.Advance(seconds(60));

  DatabaseDown();
  // Far more passes than retries.limit (3): the outage lasts.
  for (int i = 0; i < 8; ++i) {
    auto out = Run();
    EXPECT_FALSE(out.terminal) << "pass " << i << ": an outage must be retried";
    EXPECT_GT(out.requeue_after.count(), 0) << "pass " << i;
    EXPECT_LE(out.requeue_after, su_.policy.retries.max_backoff) << "pass " << i;
    ResourceStatus st = Stored();
    EXPECT_EQ(st.phase, Phase::kSucceeded) << "pass " << i << ": " << st.message;
    EXPECT_EQ(Cond(st, "Ready").substr(0, 8), "Unknown/") << "pass " << i;
    EXPECT_EQ(st.current_version, before.current_version) << "the last observed version is kept";
    EXPECT_EQ(st.image, before.image) << "the last observed image is kept";
    EXPECT_EQ(st.observed_at, before.observed_at) << "and when it was observed";
    EXPECT_TRUE(st.failure_action.empty()) << st.failure_action;
    clock_.Advance(out.requeue_after);
  }
  ResourceStatus during = Stored();
  EXPECT_EQ(Cond(during, "Ready"), "Unknown/DatabaseUnavailable");
  EXPECT_EQ(Cond(during, "Stalled"), "True/RetriesExhausted") << "the budget still drives alerting";
  EXPECT_NE(during.message.find("was at v1.2.0 when last observed"), std::string::npos) << during.message;
  EXPECT_EQ(EventsWithReason("RetriesExhausted"), 1) << "one event when the budget is spent, not one per retry";

  DatabaseUp();
  auto out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  ResourceStatus after = Stored();
  EXPECT_EQ(after.phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(after, "Ready"), "True/Succeeded");
  EXPECT_EQ(Cond(after, "Stalled"), "False/Succeeded");
  EXPECT_EQ(after.attempts, 0);
  EXPECT_EQ(after.next_retry_at, "");
  EXPECT_EQ(after.observed_at, FormatTime(clock_.Now()));
  EXPECT_EQ(world_.applies, applies) << "nothing to do after the outage";
  EXPECT_EQ(rt_.set_calls.size(), 1u);
}

TEST_F(ReconcilerOutageTest, TransientFailurePastItsBudgetKeepsRetryingAtMaxBackoffAndRecoversByItself) {
  DatabaseDown();
  ReconcileOutcome out;
  for (int i = 1; i <= 7; ++i) {
    out = Run();
    ASSERT_FALSE(out.terminal) << "attempt " << i << " gave up: " << Stored().message;
    ResourceStatus st = Stored();
    EXPECT_NE(st.phase, Phase::kFailed) << "attempt " << i;
    EXPECT_EQ(st.attempts, i);
    EXPECT_EQ(st.next_retry_at, FormatTime(clock_.Now() + out.requeue_after));
    if (i > su_.policy.retries.limit) {
      EXPECT_EQ(out.requeue_after, su_.policy.retries.max_backoff) << "attempt " << i;
      EXPECT_EQ(Cond(st, "Stalled"), "True/RetriesExhausted") << "attempt " << i;
      EXPECT_EQ(Cond(st, "Reconciling"), "False/RetriesExhausted") << "attempt " << i;
      EXPECT_EQ(Cond(st, "Ready"), "False/DatabaseUnavailable") << "attempt " << i;
      EXPECT_NE(st.message.find("still retrying"), std::string::npos) << st.message;
    } else {
      EXPECT_EQ(Cond(st, "Stalled"), "False/DatabaseUnavailable") << "attempt " << i;
    }
    clock_.Advance(out.requeue_after);
  }
  EXPECT_EQ(db_.connects(), 7);

  DatabaseUp();
  out = Run();  // no annotation, no force: the scheduled retry
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(st, "Ready"), "True/Succeeded");
  EXPECT_EQ(Cond(st, "Stalled"), "False/Succeeded");
  EXPECT_EQ(world_.applies, 1);
}

// A status written by an older version as Failed/RetriesExhausted is not a dead end either.
TEST_F(ReconcilerOutageTest, AnOldFailedRetriesExhaustedStatusIsRetried) {
  ASSERT_TRUE(Run().result.ok());
  ResourceStatus old = Stored();
  old.phase = Phase::kFailed;
  old.attempts = 11;
  old.next_retry_at.clear();
  SetCondition(&old, "Stalled", "True", "RetriesExhausted", "gave up after 11 attempts", su_.generation, clock_.Now());
  ReplaceStoreWith(old);
  int connects = db_.connects();

  auto out = Run();
  EXPECT_EQ(db_.connects(), connects + 1) << "the pass ran";
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerOutageTest, ANewSpecDuringAnOutageKeepsTheLastObservedVersionAndImage) {
  ASSERT_TRUE(Run().result.ok());
  ResourceStatus before = Stored();
  clock_.Advance(seconds(60));
  DatabaseDown();
  su_.spec_hash = "spec-hash-2";
  su_.annotations[kRetryAnnotation] = "again";

  auto out = Run();

  EXPECT_FALSE(out.terminal);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.current_version, before.current_version) << "blanked by the new spec during the outage";
  EXPECT_EQ(st.image, kNewImage);
  EXPECT_EQ(st.observed_at, before.observed_at);
  EXPECT_EQ(st.phase, Phase::kPending) << "a new spec is not yet known to be at its target";
  EXPECT_EQ(Cond(st, "Ready"), "False/DatabaseUnavailable");
}

TEST_F(ReconcilerOutageTest, ATransientFailureAfterAHaltReportsNoOnFailureAction) {
  RunReport failed;
  failed.status = Status::Database("20240201000002_sessions.up.sql: relation \"sessions\" already exists", "42P07");
  world_.apply_script = {failed};
  auto out = Run();
  ASSERT_TRUE(out.terminal);
  ASSERT_EQ(Stored().failure_action, "halt: nothing was undone");

  DatabaseDown();
  ReconcileOptions force;
  force.force = true;  // `schema-upgrade apply` again, while the database is down
  out = Run(force);

  EXPECT_EQ(out.result.code(), Code::kUnavailable);
  EXPECT_FALSE(out.terminal);
  ResourceStatus st = Stored();
  EXPECT_NE(st.phase, Phase::kFailed);
  EXPECT_EQ(st.failure_action, "") << "onFailure did not run for this (transient) failure";
  EXPECT_EQ(AuditRecords("on-failure"), 1);
}

TEST_F(ReconcilerOutageTest, AWorkloadThatCannotBeObservedDuringVerifyIsRetriedNotRolledBack) {
  su_.policy.on_failure = OnFailure::kRollbackImage;
  verify_results_ = {Status::Error(Code::kUnavailable, "podman inspect ciam-kratos: cannot connect to podman")};

  auto out = Run();

  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(out.result.code(), Code::kUnavailable);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.failure_action, "");
  EXPECT_EQ(rt_.declared, kNewImage) << "the image was not rolled back for an outage";
  EXPECT_EQ(AuditRecords("on-failure"), 0);
  EXPECT_EQ(Cond(st, "Reconciling"), "True/VerifyUnavailable");

  clock_.Advance(out.requeue_after);
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerOutageTest, ATransientImageEditFailureIsRetriedNotHandedToOnFailure) {
  rt_.set_errors = {Status::Error(Code::kUnavailable, "compose file busy")};

  auto out = Run();

  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(Stored().failure_action, "");
  EXPECT_EQ(AuditRecords("on-failure"), 0);
  clock_.Advance(out.requeue_after);
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(rt_.declared, kNewImage);
}

// 4b: the migration lock is taken before the backup: a run that cannot get it dumps nothing.
TEST_F(ReconcilerOutageTest, TheMigrationLockIsTakenBeforeTheBackup) {
  su_.policy.backup_enabled = true;
  db_.lock_available = false;

  auto out = Run();

  EXPECT_EQ(out.result.code(), Code::kLockBusy);
  EXPECT_TRUE(backup_.backup_paths.empty()) << "a backup was taken by a run that never got the migration lock";
  EXPECT_EQ(world_.applies, 0);

  db_.lock_available = true;
  int lock_session = 0;
  backup_.on_backup = [&] { lock_session = db_.lock_holder(); };
  clock_.Advance(out.requeue_after);
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_NE(lock_session, 0) << "the backup ran without the migration lock held";
  EXPECT_EQ(db_.lock_holder(), 0) << "released at the end";
}

// 4b: two runs on one database. This one waits for the lock while the other migrates everything;
// once it has the lock it sees the database as it is now: no backup, nothing applied, and the
// database version it reports is the real one (was: "0 migration(s) applied, database at" the
// version seen before the wait, or "(empty)" on a fresh database).
TEST_F(ReconcilerOutageTest, ARunThatWaitedForTheLockObservesAgainUnderIt) {
  su_.policy.backup_enabled = true;
  su_.policy.lock_wait = seconds(10);
  db_.lock_available = false;
  HookedClock clock(&clock_);
  clock.on_sleep = [&] {
    if (db_.lock_available) return;
    world_.MarkApplied(world_.pending.size());  // the other run's work
    db_.lock_available = true;                  // and it releases the lock
  };
  ReconcilerDeps deps = Deps();
  deps.clock = &clock;
  Reconciler r(deps);

  auto out = r.Reconcile(su_);

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(out.migrations_applied, 0);
  EXPECT_EQ(world_.applies, 0) << "nothing was pending any more";
  EXPECT_TRUE(backup_.backup_paths.empty()) << "a backup for work another run already did";
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(st.current_version, "20240201000003");
  EXPECT_TRUE(st.pending.empty());
  ASSERT_TRUE(out.plan.has_value());
  EXPECT_EQ(out.plan->db_version, "20240201000003");
}

// The CLI opens its session on another thread while the pass reads the workload and stamps the
// source (ReconcilerDeps::connect_in_background). A pass then ends as on the serial path, and
// the session's error still comes before a later step's: an unreachable database with a workload
// that cannot be read is DatabaseUnavailable either way.
TEST_F(ReconcilerOutageTest, ASessionOpenedInTheBackgroundKeepsTheSerialOutcomesAndErrorOrder) {
  for (bool background : {false, true}) {
    SCOPED_TRACE(background ? "in the background" : "serial");
    store_ = NewMemoryStatusStore();
    db_.connect_results.push_back(Status::Error(Code::kUnavailable, "connection refused"));
    rt_.declared_errors.push_back(Status::Invalid("compose file unreadable"));
    ReconcilerDeps d = Deps();
    d.connect_in_background = background;
    ReconcileOptions force;
    force.force = true;
    auto out = Reconciler(d).Reconcile(su_, force);
    EXPECT_EQ(out.result.code(), Code::kUnavailable) << out.result.ToString();
    EXPECT_EQ(Cond(Stored(), "Ready"), "False/DatabaseUnavailable");
    rt_.declared_errors.clear();

    // Reachable again, and the workload readable: the pass runs to the end.
    out = Reconciler(d).Reconcile(su_, force);
    ASSERT_TRUE(out.result.ok()) << out.result.ToString();
    EXPECT_EQ(out.status.phase, Phase::kSucceeded);
  }
  EXPECT_EQ(world_.applies, 1) << "the second mode found the three migrations applied";
}

}  // namespace
}  // namespace su::testing
