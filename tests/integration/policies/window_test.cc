// policy.maintenanceWindow against a real database with a FakeClock: outside the window the
// resource waits (phase Waiting, reason OutsideMaintenanceWindow, next opening in status and in
// requeue_after) and the database is untouched; once the clock is inside, the next pass applies.
#include <gtest/gtest.h>

#include "tests/integration/policies/policy_harness.h"

namespace su::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

void ExpectWaitingForWindow(const ReconcileOutcome& out, const std::string& next_open, milliseconds requeue) {
  EXPECT_EQ(out.status.phase, Phase::kWaiting) << out.status.message;
  const Condition* ready = FindCondition(out.status, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, "False");
  EXPECT_EQ(ready->reason, "OutsideMaintenanceWindow");
  const Condition* stalled = FindCondition(out.status, "Stalled");
  ASSERT_NE(stalled, nullptr);
  EXPECT_EQ(stalled->status, "False");
  EXPECT_EQ(out.status.next_retry_at, next_open);
  EXPECT_EQ(out.requeue_after, requeue);
  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(out.result.code(), Code::kGated);
  EXPECT_NE(out.status.message.find(next_open), std::string::npos) << out.status.message;
}

// 001 applied without a window; 002 pending under `window_yaml`.
void Prepare(PolicyHarness& h, Reconciler& r) {
  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1), (2);\n");
  auto first = h.Reconcile(r, h.Manifest("app", "001", ""));
  ASSERT_EQ(first.status.phase, Phase::kSucceeded) << first.status.message;
  h.WriteMigration("002", "email", "ALTER TABLE users ADD COLUMN email text;\n");
}

TEST(WindowPolicy, HoldsTheMigrationUntilTheWindowOpensThenApplies) {
  PolicyHarness h("window_utc", At("2026-03-10T12:00:00Z"));
  Reconciler r(h.Deps());
  Prepare(h, r);
  const std::string before = h.Dump();
  auto su = h.Manifest("app", "002", "maintenanceWindow:\n  start: \"02:00\"\n  end: \"04:00\"\n  timeZone: UTC\n");

  auto out = h.Reconcile(r, su);
  ExpectWaitingForWindow(out, "2026-03-11T02:00:00Z", hours(14));
  EXPECT_EQ(out.status.pending, (std::vector<std::string>{"002"}));
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001"}));
  EXPECT_EQ(h.Dump(), before) << "a pass outside the window changed the database";

  // Still closed a minute before it opens: nothing happens (also not on a forced pass).
  h.clock().Set(At("2026-03-11T01:59:00Z"));
  out = h.Reconcile(r, su, /*force=*/true);
  ExpectWaitingForWindow(out, "2026-03-11T02:00:00Z", minutes(1));
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001"}));

  h.clock().Set(At("2026-03-11T02:00:00Z"));
  out = h.Reconcile(r, su);
  EXPECT_EQ(out.status.phase, Phase::kSucceeded) << out.status.message;
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002"}));
  EXPECT_EQ(h.Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND "
                     "column_name = 'email'"),
            "1");
  EXPECT_TRUE(out.status.next_retry_at.empty()) << out.status.next_retry_at;
  h.ExpectNoSecretAnywhere();
}

TEST(WindowPolicy, WindowInEuropeParisFollowsLocalTimeAcrossSeasons) {
  // Winter (CET, UTC+1): 00:30Z is 01:30 in Paris, the 02:00-04:00 window opens at 01:00Z.
  PolicyHarness h("window_paris", At("2026-01-15T00:30:00Z"));
  Reconciler r(h.Deps());
  Prepare(h, r);
  auto su =
      h.Manifest("app", "002", "maintenanceWindow:\n  start: \"02:00\"\n  end: \"04:00\"\n  timeZone: Europe/Paris\n");
  auto out = h.Reconcile(r, su);
  ExpectWaitingForWindow(out, "2026-01-15T01:00:00Z", minutes(30));
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001"}));

  // 03:30Z is 04:30 in Paris: closed again after a 02:00-04:00 UTC reading would have been open.
  h.clock().Set(At("2026-01-15T03:30:00Z"));
  out = h.Reconcile(r, su, /*force=*/true);
  ExpectWaitingForWindow(out, "2026-01-16T01:00:00Z", hours(21) + minutes(30));
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001"}));

  h.clock().Set(At("2026-01-16T01:00:00Z"));
  out = h.Reconcile(r, su);
  EXPECT_EQ(out.status.phase, Phase::kSucceeded) << out.status.message;
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002"}));

  // Summer (CEST, UTC+2): 00:30Z is 02:30 in Paris, inside the window; applies at once.
  PolicyHarness summer("window_paris_summer", At("2026-07-10T00:30:00Z"));
  Reconciler rs(summer.Deps());
  Prepare(summer, rs);
  auto su_summer = summer.Manifest("app", "002",
                                   "maintenanceWindow:\n  start: \"02:00\"\n  end: \"04:00\"\n  timeZone: Europe/Paris\n");
  out = summer.Reconcile(rs, su_summer);
  EXPECT_EQ(out.status.phase, Phase::kSucceeded) << out.status.message;
  EXPECT_EQ(summer.History(), (std::vector<std::string>{"001", "002"}));
  h.ExpectNoSecretAnywhere();
  summer.ExpectNoSecretAnywhere();
}

// Spring forward (2026-03-29, Sunday): 02:00-03:00 Europe/Berlin does not exist that day. The
// resource waits for the first valid instant after it (03:00 CEST = 01:00Z), as cron runs jobs of
// the skipped hour, and applies then; it never goes Failed ("never opens").
TEST(WindowPolicy, AWindowInTheHourSkippedBySpringForwardOpensWhenTheClocksJump) {
  PolicyHarness h("window_dst", At("2026-03-22T02:30:00Z"));  // the Sunday before, after its window
  Reconciler r(h.Deps());
  Prepare(h, r);
  auto su = h.Manifest("app", "002",
                       "maintenanceWindow:\n  start: \"02:00\"\n  end: \"03:00\"\n  timeZone: Europe/Berlin\n"
                       "  days: [Sun]\n");
  auto out = h.Reconcile(r, su);
  ExpectWaitingForWindow(out, "2026-03-29T01:00:00Z", hours(7 * 24 - 1) - minutes(30));
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001"}));

  h.clock().Set(At("2026-03-29T00:59:00Z"));  // 01:59 CET
  out = h.Reconcile(r, su, /*force=*/true);
  ExpectWaitingForWindow(out, "2026-03-29T01:00:00Z", minutes(1));

  h.clock().Set(At("2026-03-29T01:20:00Z"));  // 03:20 CEST
  out = h.Reconcile(r, su);
  EXPECT_EQ(out.status.phase, Phase::kSucceeded) << out.status.message;
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002"}));
}

// The window closes while pg_dump runs: the migration does not start after the end; the resource
// waits (not Failed) and applies at the next opening with the backup it took.
TEST(WindowPolicy, AWindowThatClosesDuringTheBackupStartsNoMigration) {
  PolicyHarness h("window_backup", At("2026-03-10T03:59:30Z"));
  Reconciler first(h.Deps());
  Prepare(h, first);
  auto slow = HookedBackupTool([&h] { h.clock().Set(At("2026-03-10T04:00:05Z")); });
  ReconcilerDeps deps = h.Deps();
  deps.backup = slow.get();
  Reconciler r(deps);
  auto su = h.Manifest("app", "002",
                       "backup:\n  enabled: true\nmaintenanceWindow:\n  start: \"02:00\"\n  end: \"04:00\"\n"
                       "  timeZone: UTC\n");
  auto out = h.Reconcile(r, su);
  ASSERT_TRUE(out.status.backup.has_value());
  ExpectWaitingForWindow(out, "2026-03-11T02:00:00Z", hours(22) - std::chrono::seconds(5));
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001"})) << "a migration started after the window closed";
  EXPECT_EQ(h.Scalar("SELECT count(*) FROM schema_upgrade_log WHERE direction = 'up' AND version = '002'"), "0");

  h.clock().Set(At("2026-03-11T02:00:00Z"));
  out = h.Reconcile(r, su);
  EXPECT_EQ(out.status.phase, Phase::kSucceeded) << out.status.message;
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002"}));
}

// Two pending migrations and the window closes while the first runs: the second does not start.
TEST(WindowPolicy, TheWindowIsCheckedBeforeEveryMigration) {
  PolicyHarness h("window_each", At("2026-03-10T03:59:30Z"));
  Reconciler first(h.Deps());
  Prepare(h, first);
  h.WriteMigration("003", "orders", "CREATE TABLE orders (id int);\n");
  ReconcilerDeps deps = h.Deps();
  deps.on_progress = [&h](const Progress& p) {
    if (p.event == Progress::Event::kMigrationDone && p.version == "002") h.clock().Set(At("2026-03-10T04:00:01Z"));
  };
  Reconciler r(deps);
  auto su = h.Manifest("app", "003", "maintenanceWindow:\n  start: \"02:00\"\n  end: \"04:00\"\n  timeZone: UTC\n");
  auto out = h.Reconcile(r, su);
  ExpectWaitingForWindow(out, "2026-03-11T02:00:00Z", hours(22) - std::chrono::seconds(1));
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002"}));
  EXPECT_EQ(out.status.current_version, "002");
  EXPECT_EQ(h.Scalar("SELECT to_regclass('orders') IS NULL"), "t");

  h.clock().Set(At("2026-03-11T02:00:00Z"));
  out = h.Reconcile(r, su);
  EXPECT_EQ(out.status.phase, Phase::kSucceeded) << out.status.message;
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002", "003"}));
}

}  // namespace
}  // namespace su::testing
