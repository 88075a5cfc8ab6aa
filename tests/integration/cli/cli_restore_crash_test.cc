// `schema-upgrade apply` with onFailure: rollback whose schema step restores the pre-upgrade
// backup (a migration has no down file), killed around the restore (SU_CRASH_AT, see
// reconcilers/base/crash_point.h), then run again: the audit log keeps every row the killed run
// wrote, holds exactly one `restore` row per restore that committed (none for one that did not),
// and the restart resumes the rollback (status.undo) rather than running the upgrade again: no
// second `up` row for any migration, one restore in all, Failed with the rollback's action.
// Also `schema-upgrade rollback` through the backup keeps the rows of the upgrade it undoes.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/integration/cli/cli_fixture.h"

namespace su::testing {
namespace {

class CliRestoreCrashTest : public CliFixture {
 protected:
  // Ver(1) applied; then the upgrade: 2 (with a down file), 3 (none: the combined rollback falls
  // back to the backup), 4 fails. `kept` is a table no migration touches (for a blocker).
  void Prepare() {
    WriteMigration(1, "users", "CREATE TABLE users (id int PRIMARY KEY, mail text);\n"
                               "INSERT INTO users VALUES (1, 'a@example.org');\nCREATE TABLE kept (id int);\n",
                   "DROP TABLE users;\n");
    WriteManifest();
    CliResult a = Run({"apply", "-f", Manifest(), "-q"});
    ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
    WriteMigration(2, "add_name", "ALTER TABLE users ADD COLUMN name text;\n", "ALTER TABLE users DROP COLUMN name;\n");
    WriteMigration(3, "orders", "CREATE TABLE orders (id int REFERENCES users(id));\n");
    WriteMigration(4, "broken", "INSERT INTO no_such_table VALUES (1);\n", "SELECT 1;\n");
    WriteManifest({"    lockTimeout: 60s", "    backup:", "      enabled: true", "    onFailure: rollback"});
  }
  // `apply` with SU_CRASH_AT: it must kill itself there.
  void ApplyKilledAt(const std::string& point) {
    CliResult r = RunCli({"apply", "-f", Manifest(), "-q"},
                         {{"SU_STATE_DIR", dir_.Path("state")}, {kDsnVar, dsn_}, {"SU_CRASH_AT", point}});
    ASSERT_EQ(r.exit_code, -1) << "not killed at " << point << ": " << r.out << r.err;
    ASSERT_TRUE(Contains(r.err, "crash point " + point + " reached")) << r.err;
  }
  // "id direction status version" of every audit row of the resource, by id.
  std::string Trail() {
    return Scalar("SELECT string_agg(id || ' ' || direction || ' ' || status || ' ' || version, E'\\n' ORDER BY id) "
                  "FROM schema_upgrade_log WHERE resource = 'clitest/app'");
  }
  int Count(const std::string& where) {
    return std::stoi(Scalar("SELECT count(*) FROM schema_upgrade_log WHERE resource = 'clitest/app' AND " + where));
  }
  void DownRollbackKilledAt(const std::string& point, const std::vector<std::string>& history_when_killed) {
    WriteMigration(1, "users", "CREATE TABLE users (id int PRIMARY KEY, mail text);\n", "DROP TABLE users;\n");
    WriteManifest();
    ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
    WriteMigration(2, "add_name", "ALTER TABLE users ADD COLUMN name text;\n", "ALTER TABLE users DROP COLUMN name;\n");
    WriteMigration(3, "orders", "CREATE TABLE orders (id int REFERENCES users(id));\n", "DROP TABLE orders;\n");
    WriteMigration(4, "broken", "INSERT INTO no_such_table VALUES (1);\n", "SELECT 1;\n");
    WriteManifest({"    onFailure: rollback"});
    ApplyKilledAt(point);
    ASSERT_EQ(History(), history_when_killed);
    CliResult again = Run({"apply", "-f", Manifest(), "-q"});
    EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
    EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
    const std::string trail = Trail();
    for (int v : {2, 3, 4}) {
      EXPECT_EQ(Count("direction = 'up' AND version = '" + Ver(v) + "'"), 1) << "tried again: " << Ver(v) << "\n" << trail;
    }
    for (int v : {2, 3}) EXPECT_EQ(Count("direction = 'down' AND version = '" + Ver(v) + "'"), 1) << Ver(v) << "\n" << trail;
    EXPECT_EQ(Count("direction = 'rollback' AND status = 'started'"), 1) << trail;
    EXPECT_EQ(Count("direction = 'on-failure'"), 1) << trail;
    CliResult st = Run({"status", "-f", Manifest()});
    EXPECT_TRUE(Contains(st.out, "Failed")) << st.out;
    EXPECT_TRUE(Contains(st.out, "then the schema: runDown: 2 migration(s) rolled back (" + Ver(3) + ", " + Ver(2) + ")"))
        << st.out;
  }
  // The run after a kill: Failed again, everything undone, nothing left running.
  void ExpectConvergedAfterRestart(const std::string& trail_before_restart) {
    CliResult again = Run({"apply", "-f", Manifest(), "-q"});
    EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
    EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
    EXPECT_FALSE(TableExists("orders"));
    EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND "
                     "column_name = 'name'"),
              "0");
    const std::string trail = Trail();
    EXPECT_EQ(trail.rfind(trail_before_restart + "\n", 0), 0u)
        << "rows of the killed run lost or changed\nbefore: " << trail_before_restart << "\nafter:  " << trail;
    EXPECT_EQ(Count("direction = 'on-failure'"), 1) << trail;
    EXPECT_EQ(Count("status = 'running'"), 0) << trail;
    // The rollback was resumed, not the upgrade: each migration was tried once, the failing one
    // included, and the schema was restored once.
    for (int v : {2, 3, 4}) {
      EXPECT_EQ(Count("direction = 'up' AND version = '" + Ver(v) + "'"), 1) << "tried again: " << Ver(v) << "\n" << trail;
    }
    EXPECT_EQ(Count("direction = 'upgrade-start'"), 2) << "the first apply's and the upgrade's, no third\n" << trail;
    EXPECT_EQ(Count("direction = 'restore' AND status = 'succeeded'"), 1) << trail;
    EXPECT_EQ(Count("direction = 'rollback' AND status = 'started'"), 1) << trail;
    EXPECT_EQ(Count("direction = 'rollback' AND status = 'succeeded'"), 1) << trail;
    CliResult st = Run({"status", "-f", Manifest()});
    EXPECT_TRUE(Contains(st.out, "Failed")) << st.out;
    EXPECT_TRUE(Contains(st.out, "no_such_table")) << "the failure undone is the one reported\n" << st.out;
    EXPECT_TRUE(Contains(st.out, "on failure:  rollback: ")) << st.out;
    EXPECT_TRUE(Contains(st.out, "then the schema: restoreBackup: database restored from")) << st.out;
    EXPECT_TRUE(Contains(st.out, "(down migrations refused: runDown FAILED")) << st.out;
    EXPECT_FALSE(Contains(st.out, "undoing:")) << "status.undo is gone once the rollback ended\n" << st.out;
  }
};

// Killed right after the restore committed, before the process recorded anything: the restore's
// row committed with it, the failed attempt's rows are still there. The restart finds status.undo
// and the restore's row: it finishes the rollback without restoring again, and without running the
// upgrade again (the schema is back at the pre-upgrade version, so a plan would see 2, 3 and 4
// pending; before status.undo the restart ran them again, failed again and restored again).
TEST_F(CliRestoreCrashTest, KilledRightAfterTheRestoreCommittedResumesTheRollbackWithoutASecondUpgrade) {
  Prepare();
  ApplyKilledAt("after-restore");
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)})) << "restored";
  const std::string trail = Trail();
  EXPECT_EQ(Count("direction = 'restore' AND status = 'succeeded'"), 1) << trail;
  for (const auto& [v, status] : {std::pair<int, std::string>{2, "succeeded"}, {3, "succeeded"}, {4, "failed"}}) {
    EXPECT_EQ(Count("direction = 'up' AND version = '" + Ver(v) + "' AND status = '" + status + "'"), 1)
        << Ver(v) << "\n" << trail;
  }
  EXPECT_EQ(Count("direction = 'rollback' AND status = 'started'"), 1) << trail;
  // The restore row is the last one: the rollback had written nothing after it.
  EXPECT_TRUE(Contains(trail.substr(trail.rfind('\n') + 1), " restore succeeded ")) << trail;
  CliResult killed = Run({"status", "-f", Manifest()});
  EXPECT_TRUE(Contains(killed.out, "undoing:     onFailure rollback of plan ")) << killed.out;
  ExpectConvergedAfterRestart(trail);
}

// Killed before the restore started: nothing restored, no restore row.
TEST_F(CliRestoreCrashTest, KilledBeforeTheRestoreLeavesNoRestoreRowAndARestartResumesTheRollback) {
  Prepare();
  ApplyKilledAt("before-restore");
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)}));
  EXPECT_EQ(Count("direction = 'restore'"), 0);
  const std::string trail = Trail();
  ExpectConvergedAfterRestart(trail);
  EXPECT_EQ(Count("direction = 'restore' AND status = 'succeeded'"), 1) << Trail();
}

// Killed while psql runs the restore (it waits for a lock a blocker holds): psql is on its own.
// Whatever it does then (commit, or die of its closed pipes), its one transaction holds the
// restore's row: restored exactly when the row is there.
TEST_F(CliRestoreCrashTest, KilledWhilePsqlRestoresTheRestoreAndItsRowCommitTogetherOrNeither) {
  Prepare();
  auto blocker = ConnectPostgres(dsn_, "cli-restore-blocker");
  ASSERT_TRUE(blocker.ok()) << blocker.status().ToString();
  ASSERT_TRUE((*blocker)->Exec("BEGIN").ok());
  ASSERT_TRUE((*blocker)->Exec("LOCK TABLE kept IN ACCESS SHARE MODE").ok());
  ApplyKilledAt("restore-running");
  ASSERT_TRUE((*blocker)->Exec("COMMIT").ok());
  // psql ends (its lock granted, then commit or death): wait for its session to go.
  bool gone = false;
  for (int i = 0; i < 6000 && !gone; ++i) {
    gone = Scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'schema-upgrade-restore-%' "
                  "AND datname = current_database()") == "0";
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(gone) << "the restore's psql session is still there after 60 s";
  const bool restored = History() == std::vector<std::string>{Ver(1)};
  if (!restored) {
    EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)})) << "half restored";
  }
  const std::string trail = Trail();
  EXPECT_EQ(Count("direction = 'restore'"), restored ? 1 : 0) << (restored ? "restored" : "not restored") << "\n" << trail;
  EXPECT_EQ(Count("direction = 'up' AND version = '" + Ver(4) + "' AND status = 'failed'"), 1) << trail;
  ExpectConvergedAfterRestart(trail);
}

// The combined rollback by down files (every migration has one: 2 and 3 applied, 4 failed), killed
// at `point`, then run again: the restart runs only what is left of the rollback, never the
// upgrade, and its action names everything it undid.
TEST_F(CliRestoreCrashTest, KilledBetweenDownFilesResumesTheRollbackWithTheRestOnly) {
  DownRollbackKilledAt("down-done#1", {Ver(1), Ver(2)});  // 3's down file committed
}

TEST_F(CliRestoreCrashTest, KilledOnceTheRollbackWasRecordedRunsItWholeOnce) {
  DownRollbackKilledAt("undo-saved", {Ver(1), Ver(2), Ver(3)});  // status.undo saved, nothing undone
}

// `schema-upgrade rollback` restoring the pre-upgrade backup (no down file for 3): the upgrade's
// audit rows stay, the restore's row follows them.
TEST_F(CliRestoreCrashTest, RollbackThroughTheBackupKeepsTheUpgradesAuditRows) {
  WriteMigration(1, "users", "CREATE TABLE users (id int PRIMARY KEY, mail text);\n"
                             "INSERT INTO users VALUES (1, 'a@example.org');\n",
                 "DROP TABLE users;\n");
  WriteManifest();
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  WriteMigration(2, "add_name", "ALTER TABLE users ADD COLUMN name text;\n", "ALTER TABLE users DROP COLUMN name;\n");
  WriteMigration(3, "drop_mail",
                 "-- schema-upgrade: phase=contract\n-- schema-upgrade: lint-ignore drop-column\n"
                 "ALTER TABLE users DROP COLUMN mail;\n");
  WriteManifest({"    backup:", "      enabled: true"});
  CliResult a = Run({"apply", "-f", Manifest(), "-q"});
  ASSERT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)})) << a.out << a.err;
  const std::string before = Trail();
  ASSERT_EQ(Count("direction = 'up' AND version = '" + Ver(3) + "'"), 1) << before;

  CliResult r = Run({"rollback", "-f", Manifest(), "--to", Ver(1)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Scalar("SELECT string_agg(mail, ',') FROM users"), "a@example.org");
  const std::string after = Trail();
  ASSERT_EQ(after.rfind(before + "\n", 0), 0u) << "before: " << before << "\nafter:  " << after;
  const std::string added = after.substr(before.size() + 1);
  EXPECT_TRUE(Contains(added, " restore succeeded " + Ver(1))) << added;
  EXPECT_EQ(added.find('\n'), std::string::npos) << "one row added: " << added;
}

}  // namespace
}  // namespace su::testing
