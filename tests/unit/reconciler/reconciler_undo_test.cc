// onFailure rollback killed part-way, with fakes: status.undo is saved before the rollback changes
// anything; a fresh reconciler that finds it resumes the rollback instead of running the upgrade
// again, skips what committed (the audit log's rows), runs the rest, and ends Failed exactly as
// an uninterrupted rollback does (failureAction, lastError, events, audit rows, one restore). A
// kill is played by throwing from a fake at that point (the status store after a given save, the
// backup tool right after the restore committed, the runtime after the old image was declared,
// the engine between two down files); the fakes keep the world as the kill left it.
#include <gtest/gtest.h>

#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "missing: " << (needle) << "\nin: " << (haystack)

struct Killed {};  // kill -9 at this point: the pass goes no further

// A status store that dies right after a save `kill_after` picks (that save is kept).
class KillingStatusStore : public StatusStore {
 public:
  explicit KillingStatusStore(std::unique_ptr<StatusStore> inner) : inner_(std::move(inner)) {}
  std::function<bool(const ResourceStatus&)> kill_after;
  Result<std::optional<ResourceStatus>> Load(const std::string& key) override { return inner_->Load(key); }
  Status Save(const std::string& key, const ResourceStatus& status) override {
    Status s = inner_->Save(key, status);
    if (kill_after && kill_after(status)) {
      kill_after = nullptr;
      throw Killed{};
    }
    return s;
  }
  Result<std::map<std::string, ResourceStatus>> List() override { return inner_->List(); }

 private:
  std::unique_ptr<StatusStore> inner_;
};

bool UndoHas(const ResourceStatus& st, const std::string& step) {
  if (!st.undo) return false;
  for (const auto& d : st.undo->done) {
    if (d == step) return true;
  }
  return false;
}

class ReconcilerUndoTest : public ReconcilerFixture {
 protected:
  void SetUp() override {
    ReconcilerFixture::SetUp();
    auto store = std::make_unique<KillingStatusStore>(NewMemoryStatusStore());
    killing_ = store.get();
    store_ = std::move(store);
    su_.policy.on_failure = OnFailure::kRollback;
    su_.policy.backup_enabled = true;
    verify_results_ = {Status::Failed("ciam-kratos exited with code 1 (schema mismatch)")};
    pre_applied_ = world_.applied;
    pre_pending_ = world_.pending;
    // The restore puts the database back as it was before the upgrade and commits its own row.
    backup_.audit_in_restore = true;
    backup_.on_restored = [this](const RestoreOptions& o) {
      world_.applied = pre_applied_;
      world_.pending = pre_pending_;
      if (o.audit_row) db_.AddAuditRow(o.audit_row->resource, o.audit_row->direction, "succeeded", "", o.audit_row->detail);
      if (kill_after_restore_) {
        kill_after_restore_ = false;
        throw Killed{};
      }
    };
  }

  // The first pass, expected to die at the kill point.
  void RunKilled() {
    bool killed = false;
    try {
      Run();
    } catch (const Killed&) {
      killed = true;
    }
    ASSERT_TRUE(killed) << "the pass was not killed";
  }

  // What a test compares between an uninterrupted rollback and a killed-and-resumed one.
  struct Ending {
    std::string failure_action, last_error, stalled;
    Phase phase = Phase::kPending;
    std::vector<std::string> events, audit;
    int attempts = 0;
    bool undo_left = true;
  };
  Ending End() {
    Ending e;
    ResourceStatus st = Stored();
    e.failure_action = st.failure_action;
    e.last_error = st.last_error;
    e.stalled = Cond(st, "Stalled");
    e.phase = st.phase;
    e.events = events_;
    e.audit = db_.AuditTrail(su_.Key());
    e.attempts = st.attempts;
    e.undo_left = st.undo.has_value();
    return e;
  }
  static void ExpectSameEnding(const Ending& resumed, const Ending& straight) {
    EXPECT_EQ(resumed.phase, Phase::kFailed);
    EXPECT_EQ(resumed.failure_action, straight.failure_action);
    EXPECT_EQ(resumed.last_error, straight.last_error);
    EXPECT_EQ(resumed.stalled, straight.stalled);
    EXPECT_EQ(resumed.events, straight.events);
    EXPECT_EQ(resumed.audit, straight.audit);
    EXPECT_EQ(resumed.attempts, straight.attempts);
    EXPECT_FALSE(resumed.undo_left) << "status.undo is cleared once the rollback ended";
  }

  // The same scenario (this test's spec) run without a kill, in a fresh world.
  Ending Uninterrupted() {
    struct Straight : ReconcilerUndoTest {
      void TestBody() override {}
    } other;
    other.SetUp();
    other.su_ = su_;
    other.verify_results_ = {Status::Failed("ciam-kratos exited with code 1 (schema mismatch)")};
    auto out = other.Run();
    EXPECT_EQ(out.kind, OutcomeKind::kFailed);
    return other.End();
  }

  KillingStatusStore* killing_ = nullptr;
  std::vector<AppliedMigration> pre_applied_;
  std::vector<PendingMigration> pre_pending_;
  bool kill_after_restore_ = false;
};

// The bug: killed right after the restore committed, the next pass saw the failed migrations
// pending again and ran the upgrade again.
TEST_F(ReconcilerUndoTest, KilledRightAfterTheRestoreCommittedResumesWithoutRunningTheUpgradeAgain) {
  su_.migrations.engine = "ory";  // no down files: the schema step restores the backup
  kill_after_restore_ = true;
  RunKilled();
  ASSERT_EQ(world_.applies, 1);
  ASSERT_EQ(backup_.restore_paths.size(), 1u);
  ResourceStatus killed = Stored();
  ASSERT_TRUE(killed.undo.has_value()) << "status.undo was saved before the rollback changed anything";
  EXPECT_TRUE(UndoHas(killed, "image"));
  EXPECT_FALSE(UndoHas(killed, "schema")) << "the kill came before the status write";

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "VerifyFailed");
  EXPECT_EQ(world_.applies, 1) << "the upgrade was not run again";
  EXPECT_EQ(backup_.backup_paths.size(), 1u);
  EXPECT_EQ(backup_.restore_paths.size(), 1u) << "the committed restore is not repeated";
  EXPECT_EQ(rt_.set_calls, (std::vector<std::string>{kNewImage, kOldImage}));
  EXPECT_EQ(rt_.declared, kOldImage);
  ExpectSameEnding(End(), Uninterrupted());
  EXPECT_HAS(Stored().failure_action, "then the schema: restoreBackup: database restored from ");
  EXPECT_HAS(Stored().failure_action, "(engine ory has no down migrations)");

  auto again = Run();  // Failed and Stalled: nothing more happens
  EXPECT_EQ(again.kind, OutcomeKind::kFailed);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(backup_.restore_paths.size(), 1u);
}

TEST_F(ReconcilerUndoTest, KilledBeforeTheRestoreRestoresOnceOnResume) {
  su_.migrations.engine = "ory";
  killing_->kill_after = [](const ResourceStatus& st) { return UndoHas(st, "image"); };
  RunKilled();
  EXPECT_TRUE(backup_.restore_paths.empty());

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(backup_.restore_paths.size(), 1u);
  EXPECT_EQ(rt_.set_calls, (std::vector<std::string>{kNewImage, kOldImage})) << "the image step is not repeated";
  ExpectSameEnding(End(), Uninterrupted());
}

TEST_F(ReconcilerUndoTest, KilledRightAfterTheMarkerWasSavedRunsTheWholeRollbackOnce) {
  killing_->kill_after = [](const ResourceStatus& st) { return st.undo.has_value() && st.undo->done.empty(); };
  RunKilled();
  EXPECT_EQ(rt_.declared, kNewImage) << "nothing undone yet";
  ResourceStatus killed = Stored();
  ASSERT_TRUE(killed.undo.has_value());
  EXPECT_EQ(killed.undo->policy, "rollback");
  EXPECT_EQ(killed.undo->start_image, kOldImage);
  EXPECT_EQ(killed.undo->from_image, kNewImage);
  EXPECT_TRUE(killed.undo->image_bumped);
  EXPECT_EQ(killed.undo->start_version, "20240101000001");
  EXPECT_EQ(killed.undo->target_version, "v1.2.0");
  EXPECT_EQ(killed.undo->reason, "VerifyFailed");
  EXPECT_GE(killed.undo->audit_from, 1);

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(rt_.declared, kOldImage);
  EXPECT_EQ(world_.applied.size(), 1u) << "down files ran";
  ExpectSameEnding(End(), Uninterrupted());
}

// Killed after the old image was declared, before its rollout and its audit row: the resumed
// pass rolls it out (the compose service would still run the new version) and records it once.
TEST_F(ReconcilerUndoTest, KilledAfterTheOldImageWasDeclaredRollsItOutOnResume) {
  rt_.on_rollout = [this] {
    if (rt_.declared == kOldImage && rt_.rollouts == 2) throw Killed{};
  };
  RunKilled();
  EXPECT_EQ(rt_.declared, kOldImage);
  EXPECT_EQ(rt_.running_image, kNewImage);

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(rt_.running_image, kOldImage) << "rolled out on resume";
  EXPECT_EQ(rt_.set_calls, (std::vector<std::string>{kNewImage, kOldImage})) << "declared once";
  EXPECT_EQ(world_.applied.size(), 1u);
  ExpectSameEnding(End(), Uninterrupted());
}

// Killed between two down files (the first committed with its row): the rest run on resume, the
// committed one is not run again, and the sentence counts all three.
TEST_F(ReconcilerUndoTest, KilledBetweenDownFilesRunsOnlyTheRestOnResume) {
  world_.during_rollback = [this](Database*, const RunContext& ctx) {
    if (world_.rollbacks != 1) return;
    const AppliedMigration last = world_.applied.back();
    world_.applied.pop_back();
    world_.pending.insert(world_.pending.begin(), FakePending(last.version, last.name));
    db_.AddAuditRow(ctx.resource, "down", "succeeded", last.version);
    throw Killed{};
  };
  RunKilled();
  ASSERT_EQ(world_.applied.size(), 3u);

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(world_.applied.size(), 1u);
  ResourceStatus st = Stored();
  EXPECT_HAS(st.failure_action,
             "then the schema: runDown: 3 migration(s) rolled back (20240201000003, 20240201000002, 20240201000001)");
  EXPECT_EQ(Cond(st, "Stalled"), "True/VerifyFailed");
  EXPECT_EQ(EventsWithReason("SchemaRolledBack"), 1);
  EXPECT_FALSE(st.undo.has_value());
}

// Killed after the schema step was recorded: only the ending is left (no step runs again).
TEST_F(ReconcilerUndoTest, KilledAfterTheSchemaStepWasRecordedOnlyFinishes) {
  killing_->kill_after = [](const ResourceStatus& st) { return UndoHas(st, "schema"); };
  RunKilled();
  const int rollbacks = world_.rollbacks;

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(world_.rollbacks, rollbacks) << "the down files are not run again";
  ExpectSameEnding(End(), Uninterrupted());
}

// The record says the restore committed, but the database is elsewhere now (someone applied a
// migration by hand): nothing more is undone, nothing runs, and status says what disagrees.
TEST_F(ReconcilerUndoTest, ARecordTheDatabaseContradictsIsReportedNotGuessed) {
  su_.migrations.engine = "ory";
  kill_after_restore_ = true;
  RunKilled();
  world_.MarkApplied(1);  // 20240201000001 applied by someone else since

  auto out = Run();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "RollbackStateMismatch");
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(backup_.restore_paths.size(), 1u);
  ResourceStatus st = Stored();
  EXPECT_EQ(Cond(st, "Stalled"), "True/RollbackStateMismatch");
  EXPECT_HAS(st.last_error, "the audit log shows its restore of ");
  EXPECT_HAS(st.last_error, "(the database back at 20240101000001), but the database is at 20240201000001 now");
  EXPECT_HAS(st.last_error, "Nothing more was undone and the upgrade was not run again");
  EXPECT_TRUE(st.undo.has_value()) << "the record stays for whoever looks";
}

TEST_F(ReconcilerUndoTest, AnotherImageDeclaredSinceIsReportedNotOverwritten) {
  killing_->kill_after = [](const ResourceStatus& st) { return st.undo.has_value() && st.undo->done.empty(); };
  RunKilled();
  rt_.declared = "localhost/oryd/kratos:v1.3.0";  // someone moved on meanwhile

  auto out = Run();

  EXPECT_EQ(out.reason, "RollbackStateMismatch");
  EXPECT_EQ(rt_.declared, "localhost/oryd/kratos:v1.3.0");
  EXPECT_EQ(world_.rollbacks, 0);
  EXPECT_HAS(Stored().last_error, "ciam-kratos declares localhost/oryd/kratos:v1.3.0 now, neither the image the upgrade set");
}

// A new olympus.io/retry value is a new spec: the record is dropped and the upgrade starts over.
TEST_F(ReconcilerUndoTest, ANewRetryAnnotationStartsFreshWithoutTheRecord) {
  su_.migrations.engine = "ory";
  kill_after_restore_ = true;
  RunKilled();
  su_.annotations["olympus.io/retry"] = "1";
  verify_results_.clear();

  auto out = Run();

  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(world_.applies, 2) << "started over";
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
  EXPECT_FALSE(Stored().undo.has_value());
}

}  // namespace
}  // namespace su::testing
