// Reconciler passes that go forward: a fresh upgrade end to end, a converged world left alone,
// resumption after a pass died at each step, and what a pass records (status, audit, events).
#include <gtest/gtest.h>

#include "reconcilers/base/log.h"
#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

// A run that failed with status and applied nothing (RunReport has more fields than a brace list names).
RunReport FailedRun(Status status) {
  RunReport r;
  r.status = std::move(status);
  return r;
}

// Passes log every phase; keep the test output to what failed.
class QuietLogs : public ::testing::Environment {
 public:
  void SetUp() override { SetLogLevel(LogLevel::kError); }
};
[[maybe_unused]] ::testing::Environment* const kQuietLogs = ::testing::AddGlobalTestEnvironment(new QuietLogs);

using std::chrono::seconds;

class ReconcilerPassTest : public ReconcilerFixture {};

TEST_F(ReconcilerPassTest, FreshUpgradeMigratesBumpsRollsOutAndSucceedsInOnePass) {
  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(out.requeue_after.count(), 0);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_TRUE(world_.pending.empty());
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{kNewImage});  // repo of the declared image + targetVersion
  EXPECT_EQ(rt_.rollouts, 1);
  EXPECT_EQ(rt_.running_image, kNewImage);
  EXPECT_EQ(verify_calls_, 1);
  EXPECT_EQ(verified_images_, std::vector<std::string>{kNewImage});
  EXPECT_EQ(journal_, (std::vector<std::string>{"apply", "set-image:" + std::string(kNewImage), "rollout", "verify"}));
  // The engine runs migrations with the target image and the resolved DSN.
  ASSERT_EQ(engine_images_.size(), 1u);
  EXPECT_EQ(engine_images_[0], kNewImage);
  EXPECT_EQ(engine_dsns_[0], kDsn);
  EXPECT_EQ(db_.dsns(), std::vector<std::string>{kDsn});

  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(st, "Ready"), "True/Succeeded");
  EXPECT_EQ(Cond(st, "Reconciling"), "False/Succeeded");
  EXPECT_EQ(Cond(st, "Stalled"), "False/Succeeded");
  EXPECT_EQ(st.previous_image, kOldImage);
  EXPECT_EQ(st.image, kNewImage);
  EXPECT_EQ(st.current_version, "20240201000003");
  EXPECT_EQ(st.target_version, "v1.2.0");
  EXPECT_EQ(st.observed_generation, 3);
  EXPECT_EQ(st.attempts, 0);
  EXPECT_TRUE(st.pending.empty());
  ASSERT_EQ(st.applied.size(), 3u);
  EXPECT_EQ(st.applied[0].version, "20240201000001");
  EXPECT_EQ(st.applied[2].name, "courier");
  EXPECT_FALSE(st.plan_hash.empty());
  EXPECT_EQ(st.resource, "ciam/kratos");
  EXPECT_EQ(out.status.phase, Phase::kSucceeded);
  ASSERT_TRUE(out.plan.has_value());
  EXPECT_EQ(out.plan->state.pending.size(), 3u);

  // Audit trail: the table is ensured and the bump is recorded with both images.
  EXPECT_GE(db_.CountContaining("CREATE TABLE IF NOT EXISTS \"public\".\"schema_upgrade_log\""), 1);
  EXPECT_EQ(AuditRecords("bump"), 1);
  bool bump_detail = false;
  for (const auto& s : db_.Statements()) {
    for (const auto& p : s.params) {
      bump_detail |= p && *p == std::string(kOldImage) + " -> " + kNewImage;
    }
  }
  EXPECT_TRUE(bump_detail);
  EXPECT_EQ(EventsWithReason("Migrated"), 1);
  EXPECT_EQ(EventsWithReason("Bumped"), 1);
  EXPECT_EQ(EventsWithReason("Succeeded"), 1);
  // Sessions are closed and the migration lock is free afterwards.
  EXPECT_EQ(db_.open_sessions(), 0);
  EXPECT_EQ(db_.lock_holder(), 0);
}

TEST_F(ReconcilerPassTest, MigrationsRunUnderTheSessionAdvisoryLockOnTheSameSession) {
  int holder_during_apply = -1;
  world_.during_apply = [&](Database* db, const RunContext& ctx) {
    holder_during_apply = db_.lock_holder();
    EXPECT_EQ(db->BackendPid(), 4000 + holder_during_apply);
    EXPECT_EQ(ctx.resource, "ciam/kratos");
    EXPECT_EQ(ctx.clock, &clock_);
  };
  su_.policy.lock_timeout = std::chrono::milliseconds(750);
  su_.policy.accept_drift = {"20240101000001"};
  ASSERT_TRUE(Run().result.ok());
  EXPECT_GT(holder_during_apply, 0);
  ASSERT_EQ(world_.apply_contexts.size(), 1u);
  EXPECT_EQ(world_.apply_contexts[0].lock_timeout.count(), 750);
  EXPECT_EQ(world_.apply_contexts[0].accept_drift, std::vector<std::string>{"20240101000001"});
  EXPECT_EQ(db_.CountContaining("pg_try_advisory_lock"), 1);
  EXPECT_EQ(db_.CountContaining("pg_advisory_unlock"), 1);
}

TEST_F(ReconcilerPassTest, ABackfillsProgressIsInStatusWhileItRunsAtMostEveryTenSeconds) {
  std::vector<std::optional<BackfillProgress>> seen;  // status as stored after each batch
  world_.during_apply = [&](Database*, const RunContext& ctx) {
    Progress p;
    p.event = Progress::Event::kBackfill;
    p.version = "20240101000002";
    p.rows_total = 1000000;
    for (int batch = 1; batch <= 4; ++batch) {
      p.rows_done = batch * 1000;
      p.rows_per_second = 500;
      p.eta_seconds = (1000000 - p.rows_done) / 500;
      ctx.on_progress(p);
      seen.push_back(Stored().backfill);
      clock_.Advance(std::chrono::seconds(4));
    }
  };
  ASSERT_TRUE(Run().result.ok());
  ASSERT_EQ(seen.size(), 4u);
  // Saved at the first batch, not again until 10 s later (batch 4 at 12 s).
  ASSERT_TRUE(seen[0].has_value());
  EXPECT_EQ(seen[0]->version, "20240101000002");
  EXPECT_EQ(seen[0]->rows_done, 1000);
  EXPECT_EQ(seen[0]->rows_total, 1000000);
  EXPECT_EQ(seen[0]->eta_seconds, 1998);
  EXPECT_EQ(seen[2]->rows_done, 1000);
  EXPECT_EQ(seen[3]->rows_done, 4000);
  EXPECT_EQ(seen[3]->rows_per_second, 500);
  EXPECT_FALSE(Stored().backfill.has_value()) << "cleared when the migrate step ends";
}

TEST_F(ReconcilerPassTest, SecondPassOnConvergedWorldDoesNothing) {
  ASSERT_TRUE(Run().result.ok());
  int applies = world_.applies;
  clock_.Advance(seconds(60));

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(world_.applies, applies);
  EXPECT_EQ(rt_.set_calls.size(), 1u);
  EXPECT_EQ(rt_.rollouts, 1);
  EXPECT_EQ(backup_.backup_paths.size(), 0u);
  ASSERT_TRUE(out.plan.has_value());
  EXPECT_TRUE(out.plan->UpToDate());
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(st, "Ready"), "True/Succeeded");
  EXPECT_EQ(st.previous_image, kOldImage);
  EXPECT_EQ(st.applied.size(), 3u);
}

// Regression (fixed; was reconciler.cc Verify(), line ~399, and Succeed()): on a converged world every pass runs
// Verify() again, which calls SetPhase(Verifying) (Ready=False, saved) and then Succeed() sets
// Ready=True: Ready's lastTransitionTime moves on every pass, the stored phase flaps through
// Verifying, the verifier (which waits verify_settle on the real clock) runs again, and a
// "Succeeded" event is emitted on every resync. Expected: a pass with nothing to do keeps Ready
// unchanged and emits nothing.
TEST_F(ReconcilerPassTest, ConvergedPassKeepsReadyTransitionTimeAndEmitsNoEvent) {
  ASSERT_TRUE(Run().result.ok());
  std::string ready_since = FindCondition(Stored(), "Ready")->last_transition_time;
  int verifies = verify_calls_;
  clock_.Advance(seconds(600));

  ASSERT_TRUE(Run().result.ok());

  std::string after = FindCondition(Stored(), "Ready")->last_transition_time;
  if (after != ready_since) {
    FAIL() << "regression: converged pass re-verifies and flaps Ready (" << ready_since << " -> "
                 << after << "), verifier calls " << verifies << " -> " << verify_calls_;
  }
  EXPECT_EQ(EventsWithReason("Succeeded"), 1);
}

// Counts the writes that reach the store under it (a fsync in folder mode, a PATCH in Kubernetes).
class CountingStore : public StatusStore {
 public:
  explicit CountingStore(StatusStore* inner) : inner_(inner) {}
  Result<std::optional<ResourceStatus>> Load(const std::string& key) override { return inner_->Load(key); }
  Status Save(const std::string& key, const ResourceStatus& status) override {
    ++saves;
    return inner_->Save(key, status);
  }
  Result<std::map<std::string, ResourceStatus>> List() override { return inner_->List(); }
  int saves = 0;

 private:
  StatusStore* inner_;
};

// Issue 10: a resync of a resource at its target used to write status on every pass (a new
// observedAt and updatedAt), an fsync per resource per resync in folder mode and a PATCH in
// Kubernetes mode. A pass that changes nothing but those timestamps writes nothing; updatedAt
// is the time of the last change, observedAt of the last observation that changed status, and
// Ready's lastTransitionTime moves only on a transition (docs/status.md).
TEST_F(ReconcilerPassTest, ConvergedPassesWriteNoStatusWhenOnlyTimestampsWouldChange) {
  ASSERT_TRUE(Run().result.ok());
  clock_.Advance(seconds(20));
  ASSERT_TRUE(Run().result.ok());  // observes the image the first pass bumped to
  ResourceStatus converged = Stored();
  CountingStore counting(store_.get());
  auto Pass = [&] {
    ReconcilerDeps d = Deps();
    d.store = &counting;
    return Reconciler(d).Reconcile(su_);
  };

  for (int i = 0; i < 3; ++i) {
    clock_.Advance(seconds(20));
    auto out = Pass();
    ASSERT_TRUE(out.result.ok()) << out.result.ToString();
    EXPECT_EQ(out.status.updated_at, converged.updated_at)
        << "the outcome reports the stored status\n" << StatusToJson(converged) << "\n" << StatusToJson(Stored());
  }

  EXPECT_EQ(counting.saves, 0) << "no status write for a pass that changed nothing";
  ResourceStatus after = Stored();
  EXPECT_EQ(after.updated_at, converged.updated_at);
  EXPECT_EQ(after.observed_at, converged.observed_at);
  EXPECT_EQ(FindCondition(after, "Ready")->last_transition_time,
            FindCondition(converged, "Ready")->last_transition_time);

  // A real change is written at once, with both timestamps of that pass.
  clock_.Advance(seconds(20));
  world_.applied.push_back({"20240301000001", "by-hand", "sum-x", "2024-03-01T00:00:00Z"});
  ASSERT_TRUE(Pass().result.ok());
  EXPECT_EQ(counting.saves, 1);
  ResourceStatus changed = Stored();
  EXPECT_EQ(changed.current_version, "20240301000001");
  EXPECT_EQ(changed.updated_at, FormatTime(clock_.Now()));
  EXPECT_EQ(changed.observed_at, FormatTime(clock_.Now()));
  EXPECT_EQ(FindCondition(changed, "Ready")->last_transition_time,
            FindCondition(converged, "Ready")->last_transition_time) << "still Ready: no transition";
}

// The controller seeds a first-seen resource's Pending status inside the pass (one status read
// per pass instead of two), before anything connects.
TEST_F(ReconcilerPassTest, SeedStatusWritesPendingBeforeThePassConnects) {
  db_.connect_results.push_back(Status::Error(Code::kUnavailable, "connection refused"));
  ReconcileOptions o;
  o.seed_status = true;
  CountingStore counting(store_.get());
  ReconcilerDeps d = Deps();
  d.store = &counting;
  auto out = Reconciler(d).Reconcile(su_, o);
  EXPECT_FALSE(out.result.ok());
  EXPECT_EQ(counting.saves, 2) << "the seed, then the retry";
}

TEST_F(ReconcilerPassTest, ResumesWithBumpOnlyWhenAPassStoppedAfterMigrating) {
  // SIGTERM arrives right after the migration: the pass stops before touching the image.
  cancelled_ = [this] { return world_.applies > 0; };
  auto first = Run();
  EXPECT_FALSE(first.result.ok());
  EXPECT_EQ(world_.applies, 1);
  EXPECT_TRUE(rt_.set_calls.empty());
  EXPECT_EQ(rt_.declared, kOldImage);
  cancelled_ = nullptr;
  clock_.Advance(first.requeue_after);

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 1);  // nothing pending: no second Apply
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{kNewImage});
  EXPECT_EQ(rt_.rollouts, 1);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(st.previous_image, kOldImage);
  EXPECT_EQ(st.applied.size(), 3u);  // recorded by the first pass, kept
}

TEST_F(ReconcilerPassTest, ResumesWithBumpOnlyFromTheWorldAlone) {
  // A dead pass migrated and its status was never saved: the world alone says what is left.
  world_.MarkApplied(3);

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 0);
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{kNewImage});
  EXPECT_EQ(rt_.rollouts, 1);
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
  EXPECT_EQ(Stored().previous_image, kOldImage);
}

TEST_F(ReconcilerPassTest, ResumesWithRolloutOnlyWhenAPassDiedAfterChangingTheImage) {
  // Capture exactly what was stored when the pass reached Rollout, then "die" there.
  ResourceStatus at_death;
  rt_.on_rollout = [&] { at_death = Stored(); };
  ASSERT_TRUE(Run().result.ok());
  ASSERT_EQ(at_death.phase, Phase::kBumping);
  ReplaceStoreWith(at_death);
  rt_.running_image = kOldImage;  // the rollout never happened
  rt_.on_rollout = nullptr;
  rt_.set_calls.clear();
  rt_.rollouts = 0;
  int applies = world_.applies;

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, applies);
  EXPECT_TRUE(rt_.set_calls.empty()) << "the declared image already is the target";
  EXPECT_EQ(rt_.rollouts, 1);
  EXPECT_EQ(rt_.running_image, kNewImage);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kSucceeded);
  EXPECT_EQ(st.previous_image, kOldImage);  // kept from the dead pass's status
}

TEST_F(ReconcilerPassTest, ResumesAfterARolloutThatFailedTransiently) {
  rt_.rollout_errors = {Status::Error(Code::kUnavailable, "podman-compose: cannot reach podman socket")};
  auto first = Run();
  EXPECT_EQ(first.result.code(), Code::kUnavailable);
  EXPECT_EQ(Cond(Stored(), "Reconciling"), "True/RolloutFailed");
  EXPECT_EQ(rt_.declared, kNewImage);
  EXPECT_EQ(rt_.running_image, kOldImage);
  clock_.Advance(first.requeue_after);

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(rt_.set_calls.size(), 1u);
  EXPECT_EQ(rt_.rollouts, 2);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
  EXPECT_EQ(Stored().attempts, 0);
}

TEST_F(ReconcilerPassTest, AnImageEditedWhileMigratingIsReplannedNotOverwritten) {
  // A person (or GitOps) moves the service to another image while the migration runs: the bump
  // planned from the old image must not overwrite it, nor count as a permanent failure.
  su_.policy.on_failure = OnFailure::kRollbackImage;
  const std::string edited = "localhost/oryd/kratos:v1.1.5";
  world_.during_apply = [&](Database*, const RunContext&) { rt_.declared = edited; };
  auto first = Run();
  EXPECT_EQ(first.result.code(), Code::kConflict) << first.result.ToString();
  EXPECT_EQ(rt_.declared, edited);
  EXPECT_EQ(rt_.rollouts, 0);
  EXPECT_EQ(Cond(Stored(), "Reconciling"), "True/WorkloadChanged");
  EXPECT_NE(Stored().phase, Phase::kFailed);
  EXPECT_EQ(Stored().failure_action, "") << "onFailure is for permanent failures";
  world_.during_apply = nullptr;
  clock_.Advance(first.requeue_after);

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(rt_.declared, kNewImage);
  EXPECT_EQ(rt_.rollout_images, std::vector<std::string>{kNewImage});
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
  EXPECT_EQ(Stored().previous_image, edited);
}

TEST_F(ReconcilerPassTest, StatusLeftMigratingByADeadPassConvergesOnTheNextPass) {
  ResourceStatus at_death;
  world_.during_apply = [&](Database*, const RunContext&) { at_death = Stored(); };
  ASSERT_TRUE(Run().result.ok());
  ASSERT_EQ(at_death.phase, Phase::kMigrating);
  // The pass died inside the migration transaction: nothing committed, nothing bumped.
  ReplaceStoreWith(at_death);
  world_.during_apply = nullptr;
  world_.applied.resize(1);
  world_.pending = {FakePending("20240201000001", "identities"), FakePending("20240201000002", "sessions"),
                    FakePending("20240201000003", "courier")};
  rt_.declared = rt_.running_image = kOldImage;
  rt_.set_calls.clear();
  rt_.rollouts = 0;

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 2);
  EXPECT_TRUE(world_.pending.empty());
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{kNewImage});
  EXPECT_EQ(rt_.rollouts, 1);
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(Stored(), "Ready"), "True/Succeeded");
}

TEST_F(ReconcilerPassTest, SpecImageOverridesTheDerivedTarget) {
  su_.image = "registry.example:5000/ory/kratos:v1.2.0-distroless";
  ASSERT_TRUE(Run().result.ok());
  EXPECT_EQ(rt_.set_calls, std::vector<std::string>{su_.image});
  EXPECT_EQ(engine_images_[0], su_.image);
}

TEST_F(ReconcilerPassTest, WithoutAWorkloadOnlyMigrations) {
  su_.workload = WorkloadRef{};
  auto out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 1);
  EXPECT_TRUE(rt_.set_calls.empty());
  EXPECT_EQ(rt_.rollouts, 0);
  EXPECT_EQ(verify_calls_, 0);
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerPassTest, SpecChangeResetsAttemptsAndLastError) {
  db_.connect_results = {Status::Error(Code::kUnavailable, "connection refused")};
  auto first = Run();
  ASSERT_EQ(Stored().attempts, 1);
  ASSERT_FALSE(Stored().last_error.empty());
  ASSERT_FALSE(Stored().next_retry_at.empty());

  // A new spec, before the backoff has passed, stopped at a gate that does not count attempts.
  su_.spec_hash = "spec-hash-2";
  su_.policy.approval_required = true;
  auto out = Run();

  EXPECT_EQ(db_.connects(), 2) << "a new spec does not wait for the old spec's backoff";
  ResourceStatus st = Stored();
  EXPECT_EQ(st.attempts, 0);
  EXPECT_EQ(st.last_error, "");
  EXPECT_EQ(st.phase, Phase::kWaiting);
  EXPECT_EQ(Cond(st, "Ready"), "False/AwaitingApproval");
}

TEST_F(ReconcilerPassTest, DsnNeverReachesStatusEventsOrErrors) {
  db_.connect_results = {Status::Error(Code::kUnavailable, std::string("could not connect to ") + kDsn)};
  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kUnavailable);
  std::string json = StatusToJson(Stored());
  EXPECT_EQ(json.find("s3cret-pw"), std::string::npos) << json;
  for (const auto& e : events_) EXPECT_EQ(e.find("s3cret-pw"), std::string::npos) << e;
  EXPECT_EQ(db_.apps(), std::vector<std::string>{"schema-upgrade:ciam/kratos"});
}

TEST_F(ReconcilerPassTest, MissingDsnVariableFailsWithoutConnecting) {
  su_.dsn.env = "NOT_SET_ANYWHERE";
  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kInvalidArgument);
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(db_.connects(), 0);
  EXPECT_EQ(Cond(Stored(), "Stalled"), "True/InvalidDatabaseSource");
  EXPECT_NE(Stored().last_error.find("NOT_SET_ANYWHERE"), std::string::npos);
}

// A missing Secret / variable is Stalled, requeues nothing (no hot loop), and the next pass (a
// resync or a watch event) looks again: once the source exists, the upgrade goes on.
TEST_F(ReconcilerPassTest, StalledDatabaseSourceIsLookedAtAgainOnTheNextPass) {
  su_.dsn.env = "SET_LATER";
  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kInvalidArgument);
  EXPECT_EQ(out.requeue_after.count(), 0) << "a stalled source must not be hot-looped";
  EXPECT_EQ(Cond(Stored(), "Stalled"), "True/InvalidDatabaseSource");
  EXPECT_EQ(db_.connects(), 0);

  su_.dsn.env = "KRATOS_DSN";  // the same spec hash: only the world changed (the source exists now)
  out = Run();
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(Cond(Stored(), "Stalled"), "False/Succeeded");
}

TEST_F(ReconcilerPassTest, UnreachableDatabaseSourceIsRetriedWithBackoff) {
  struct Unreachable : SecretResolver {
    Result<std::string> ResolveDsn(const SchemaUpgrade&) override {
      return Status::Error(Code::kUnavailable, "reading Secret ciam/kratos-db: connection refused");
    }
  } resolver;
  Reconciler r([&] {
    ReconcilerDeps d = Deps();
    d.secrets = &resolver;
    return d;
  }());
  auto out = r.Reconcile(su_, {});
  EXPECT_EQ(out.kind, OutcomeKind::kRetryAfter);
  EXPECT_GT(out.requeue_after.count(), 0);
  EXPECT_EQ(Cond(Stored(), "Stalled"), "False/InvalidDatabaseSource");
}

TEST_F(ReconcilerPassTest, BlockedSessionsAreRecordedAndAWatchCancelIsRetried) {
  use_watch_ = true;
  world_.during_apply = [&](Database*, const RunContext&) {
    watch_.Report({{77, "checkout-api", 12000, "UPDATE identities SET ..."}}, /*cancel_it=*/true);
  };
  world_.apply_script = {FailedRun(Status::Error(Code::kCancelled, "canceling statement due to user request"))};
  su_.policy.blocked_session_limit = seconds(10);

  auto out = Run();

  EXPECT_EQ(out.result.code(), Code::kCancelled);
  EXPECT_GT(out.requeue_after.count(), 0);
  EXPECT_EQ(db_.cancels(), 1);
  ASSERT_FALSE(watch_.started_pids.empty());
  EXPECT_GT(watch_.stops, 0);
  ResourceStatus st = Stored();
  ASSERT_EQ(st.blocked_sessions.size(), 1u);
  EXPECT_EQ(st.blocked_sessions[0].pid, 77);
  EXPECT_EQ(st.blocked_sessions[0].application_name, "checkout-api");
  EXPECT_EQ(Cond(st, "Reconciling"), "True/BlockingTraffic");
  EXPECT_EQ(st.attempts, 1);
  EXPECT_TRUE(rt_.set_calls.empty());
}

// The watch cannot open its session (e.g. the role's CONNECTION LIMIT): with a limit set, the
// migration does not run unwatched; it is a transient failure, retried with backoff.
TEST_F(ReconcilerPassTest, AnUnavailableWatchWithALimitIsRetriedAndNothingRunsUnwatched) {
  use_watch_ = true;
  watch_.start_error = Status::Error(Code::kUnavailable, "too many connections for role \"kratos\"");
  su_.policy.blocked_session_limit = seconds(3);

  auto out = Run();

  EXPECT_EQ(out.result.code(), Code::kUnavailable) << out.result.ToString();
  EXPECT_FALSE(out.terminal);
  EXPECT_GT(out.requeue_after.count(), 0);
  EXPECT_EQ(world_.applies, 0) << "the migration ran unwatched";
  ResourceStatus st = Stored();
  EXPECT_EQ(Cond(st, "Reconciling"), "True/LockWatchUnavailable");
  EXPECT_NE(st.last_error.find("too many connections"), std::string::npos) << st.last_error;
  EXPECT_NE(st.last_error.find("blockedSessionLimit"), std::string::npos) << st.last_error;
  EXPECT_EQ(st.attempts, 1);
}

// Without a limit the watch only reports: the migration runs, and the missing watch is a Warning.
TEST_F(ReconcilerPassTest, AnUnavailableWatchWithoutALimitIsAWarningAndTheMigrationRuns) {
  use_watch_ = true;
  watch_.start_error = Status::Error(Code::kUnavailable, "too many connections for role \"kratos\"");

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 1);
  bool warned = false;
  for (const auto& e : events_) warned |= e.find("Warning LockWatchUnavailable") != std::string::npos;
  EXPECT_TRUE(warned) << "no LockWatchUnavailable Warning event";
}

}  // namespace
}  // namespace su::testing
