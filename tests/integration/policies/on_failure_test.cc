// policy.onFailure on the sql engine against a real database, for a migration that fails after
// earlier ones of the same upgrade committed: halt leaves everything as it is (Failed, Stalled),
// runDown runs the down files back to the pre-upgrade version; both are recorded in
// status.failureAction and the audit log. (restoreBackup: backup_test.cc; rollbackImage needs a
// workload: the podman end-to-end tests.)
#include <gtest/gtest.h>

#include "tests/integration/policies/policy_harness.h"

namespace su::testing {
namespace {

void WriteUpgrade(PolicyHarness& h) {
  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1), (2);\n",
                   "DROP TABLE users;\n");
}

// 002 and 003 commit, 004 fails at its second statement.
void WriteFailingUpgrade(PolicyHarness& h) {
  h.WriteMigration("002", "email", "ALTER TABLE users ADD COLUMN email text;\nUPDATE users SET email = 'x' || id;\n",
                   "ALTER TABLE users DROP COLUMN email;\n");
  h.WriteMigration("003", "orders", "CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users(id));\n",
                   "DROP TABLE orders;\n");
  h.WriteMigration("004", "broken", "CREATE TABLE audit_trail (id int);\nALTER TABLE users ADD COLUMN id int;\n",
                   "DROP TABLE IF EXISTS audit_trail;\n");
}

void ExpectFailedAndStalled(const ReconcileOutcome& out) {
  EXPECT_EQ(out.status.phase, Phase::kFailed) << out.status.message;
  EXPECT_TRUE(out.terminal);
  const Condition* stalled = FindCondition(out.status, "Stalled");
  ASSERT_NE(stalled, nullptr);
  EXPECT_EQ(stalled->status, "True");
  EXPECT_EQ(stalled->reason, "MigrationFailed");
  const Condition* ready = FindCondition(out.status, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, "False");
  EXPECT_NE(out.status.last_error.find("004_broken"), std::string::npos) << out.status.last_error;
  EXPECT_NE(out.status.last_error.find("statement 2"), std::string::npos) << out.status.last_error;
  EXPECT_EQ(out.status.attempts, 1);
  EXPECT_TRUE(out.status.next_retry_at.empty());
}

const AuditEntry* FindAudit(const std::vector<AuditEntry>& rows, const std::string& direction,
                            const std::string& version = "") {
  for (const auto& a : rows) {
    if (a.direction == direction && (version.empty() || a.version == version)) return &a;
  }
  return nullptr;
}

TEST(OnFailurePolicy, HaltLeavesTheCommittedMigrationsAndStaysFailed) {
  PolicyHarness h("onfailure_halt");
  WriteUpgrade(h);
  Reconciler r(h.Deps());
  ASSERT_EQ(h.Reconcile(r, h.Manifest("app", "001", "")).status.phase, Phase::kSucceeded);
  WriteFailingUpgrade(h);
  auto su = h.Manifest("app", "004", "onFailure: halt\n");

  auto out = h.Reconcile(r, su);
  ExpectFailedAndStalled(out);
  EXPECT_EQ(out.status.failure_action, "halt: nothing was undone");
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002", "003"}));
  EXPECT_EQ(out.status.current_version, "003");
  EXPECT_EQ(h.Scalar("SELECT to_regclass('orders') IS NOT NULL"), "t");
  EXPECT_EQ(h.Scalar("SELECT to_regclass('audit_trail') IS NULL"), "t") << "004 was not rolled back";
  auto audit = h.Audit();
  const AuditEntry* failed = FindAudit(audit, "up", "004");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->status, "failed");
  const AuditEntry* action = FindAudit(audit, "on-failure");
  ASSERT_NE(action, nullptr);
  EXPECT_NE(action->detail.find("halt: nothing was undone"), std::string::npos) << action->detail;
  EXPECT_NE(action->error.find("004"), std::string::npos) << action->error;

  // Stalled: later passes change nothing until someone asks again.
  auto again = h.Reconcile(r, su);
  EXPECT_EQ(again.status.phase, Phase::kFailed);
  EXPECT_TRUE(again.terminal);
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002", "003"}));

  // Fixing the file and forcing a retry finishes the upgrade.
  h.WriteMigration("004", "broken", "CREATE TABLE audit_trail (id int);\n", "DROP TABLE IF EXISTS audit_trail;\n");
  auto fixed = h.Reconcile(r, su, /*force=*/true);
  EXPECT_EQ(fixed.status.phase, Phase::kSucceeded) << fixed.status.message;
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002", "003", "004"}));
  h.ExpectNoSecretAnywhere();
}

TEST(OnFailurePolicy, RunDownRollsBackToThePreUpgradeVersion) {
  PolicyHarness h("onfailure_rundown");
  WriteUpgrade(h);
  Reconciler r(h.Deps());
  ASSERT_EQ(h.Reconcile(r, h.Manifest("app", "001", "")).status.phase, Phase::kSucceeded);
  const std::string schema_before = h.Dump({"--schema-only", "--exclude-table=public.schema_upgrade_log"});
  WriteFailingUpgrade(h);
  auto su = h.Manifest("app", "004", "onFailure: runDown\n");

  auto out = h.Reconcile(r, su);
  ExpectFailedAndStalled(out);
  EXPECT_EQ(out.status.failure_action, "runDown: 2 migration(s) rolled back (003, 002); the database is at 001");
  EXPECT_EQ(out.status.start_version, "001");
  EXPECT_EQ(out.status.current_version, "001");
  EXPECT_TRUE(out.status.applied.empty()) << StatusToJson(out.status);
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001"}));
  EXPECT_EQ(h.Dump({"--schema-only", "--exclude-table=public.schema_upgrade_log"}), schema_before);

  auto audit = h.Audit();
  const AuditEntry* down3 = FindAudit(audit, "down", "003");
  const AuditEntry* down2 = FindAudit(audit, "down", "002");
  ASSERT_NE(down3, nullptr);
  ASSERT_NE(down2, nullptr);
  EXPECT_EQ(down3->status, "succeeded");
  EXPECT_EQ(down2->status, "succeeded");
  EXPECT_GT(down2->id, down3->id) << "down migrations run newest first";
  EXPECT_EQ(FindAudit(audit, "down", "004"), nullptr) << "the failed migration was rolled back, not run down";
  const AuditEntry* action = FindAudit(audit, "on-failure");
  ASSERT_NE(action, nullptr);
  EXPECT_NE(action->detail.find("runDown: 2 migration(s) rolled back (003, 002)"), std::string::npos) << action->detail;
  h.ExpectNoSecretAnywhere();
}

// The same resource (same spec) succeeds, then a new migration file arrives and fails: runDown must
// stop at the version the database had before *this* run's work, not undo the earlier success.
TEST(OnFailurePolicy, RunDownAfterAnEarlierSuccessKeepsWhatThatSuccessApplied) {
  PolicyHarness h("onfailure_rundown_again");
  WriteUpgrade(h);
  h.WriteMigration("002", "email", "ALTER TABLE users ADD COLUMN email text;\n", "ALTER TABLE users DROP COLUMN email;\n");
  Reconciler r(h.Deps());
  auto su = h.Manifest("app", "latest", "onFailure: runDown\n");
  ASSERT_EQ(h.Reconcile(r, su).status.phase, Phase::kSucceeded);
  ASSERT_EQ(h.History(), (std::vector<std::string>{"001", "002"}));

  h.WriteMigration("003", "broken", "ALTER TABLE users ADD COLUMN id int;\n", "SELECT 1;\n");
  auto out = h.Reconcile(r, su);
  EXPECT_EQ(out.status.phase, Phase::kFailed) << out.status.message;
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002"})) << out.status.failure_action;
  EXPECT_EQ(out.status.failure_action, "runDown: 0 migration(s) rolled back; the database is at 002");
}

TEST(OnFailurePolicy, RunDownOfAFirstUpgradeRemovesEverything) {
  PolicyHarness h("onfailure_rundown_empty");
  WriteUpgrade(h);
  WriteFailingUpgrade(h);
  Reconciler r(h.Deps());
  auto out = h.Reconcile(r, h.Manifest("app", "004", "onFailure: runDown\n"));
  ExpectFailedAndStalled(out);
  EXPECT_EQ(out.status.failure_action,
            "runDown: 3 migration(s) rolled back (003, 002, 001); the database is at (nothing applied)");
  EXPECT_TRUE(out.status.current_version.empty()) << out.status.current_version;
  EXPECT_TRUE(h.History().empty());
  EXPECT_EQ(h.Scalar("SELECT to_regclass('users') IS NULL"), "t");
  h.ExpectNoSecretAnywhere();
}

// Out of order: the database had 001 and 010; this upgrade applied 002 and 003 (older than the
// current version), then 004 failed. runDown rolls back what this upgrade applied, newest
// application first (003, 002), not "everything above the start version" (nothing above 010).
TEST(OnFailurePolicy, RunDownUndoesWhatThisUpgradeAppliedEvenOutOfOrder) {
  PolicyHarness h("onfailure_rundown_ooo");
  WriteUpgrade(h);
  h.WriteMigration("010", "flags", "CREATE TABLE flags (id int);\n", "DROP TABLE flags;\n");
  Reconciler r(h.Deps());
  ASSERT_EQ(h.Reconcile(r, h.Manifest("app", "010", "")).status.phase, Phase::kSucceeded);
  WriteFailingUpgrade(h);
  auto out = h.Reconcile(r, h.Manifest("app", "011", "onFailure: runDown\n"));

  ExpectFailedAndStalled(out);
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "010"})) << out.status.failure_action;
  EXPECT_EQ(h.Scalar("SELECT to_regclass('orders') IS NULL"), "t");
  EXPECT_EQ(h.Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND "
                     "column_name = 'email'"),
            "0");
  EXPECT_EQ(out.status.failure_action, "runDown: 2 migration(s) rolled back (003, 002); the database is at 010");
  EXPECT_EQ(out.status.current_version, "010");
  EXPECT_EQ(h.Scalar("SELECT to_regclass('flags') IS NOT NULL"), "t") << "010 was not this upgrade's";
  auto audit = h.Audit();
  const AuditEntry* down3 = FindAudit(audit, "down", "003");
  const AuditEntry* down2 = FindAudit(audit, "down", "002");
  ASSERT_NE(down3, nullptr);
  ASSERT_NE(down2, nullptr);
  EXPECT_GT(down2->id, down3->id) << "reverse order of application";
  EXPECT_EQ(FindAudit(audit, "down", "010"), nullptr);
}

// A down file that fails: status says where the database really is after the failed rollback
// (003 rolled back, 002's down failed: the database is at 002), and what to do.
TEST(OnFailurePolicy, AFailedRunDownLeavesStatusAtTheDatabasesVersion) {
  PolicyHarness h("onfailure_rundown_fails");
  WriteUpgrade(h);
  Reconciler r(h.Deps());
  ASSERT_EQ(h.Reconcile(r, h.Manifest("app", "001", "")).status.phase, Phase::kSucceeded);
  WriteFailingUpgrade(h);
  h.WriteMigration("002", "email", "ALTER TABLE users ADD COLUMN email text;\nUPDATE users SET email = 'x' || id;\n",
                   "ALTER TABLE users DROP COLUMN no_such_column;\n");
  auto out = h.Reconcile(r, h.Manifest("app", "004", "onFailure: runDown\n"));

  ExpectFailedAndStalled(out);
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002"}));
  EXPECT_EQ(out.status.current_version, "002") << out.status.failure_action;
  EXPECT_NE(out.status.failure_action.find("runDown FAILED after 1 migration(s) rolled back (003)"), std::string::npos)
      << out.status.failure_action;
  EXPECT_NE(out.status.failure_action.find("002_email"), std::string::npos) << out.status.failure_action;
  EXPECT_NE(out.status.failure_action.find("the database is at 002"), std::string::npos) << out.status.failure_action;
  ASSERT_EQ(out.status.applied.size(), 1u) << StatusToJson(out.status);
  EXPECT_EQ(out.status.applied[0].version, "002");
}

}  // namespace
}  // namespace su::testing
