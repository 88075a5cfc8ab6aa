// What a drizzle batch costs, counted on a real PostgreSQL rather than timed (issue 10), and what a
// kill in the middle of it leaves behind:
//  - commits: pg_stat_database.xact_commit of the database (flushed with pg_stat_force_next_flush)
//    and write transactions (xids) around an Apply of 2 and of 12 migrations: the ten more
//    migrations add no commit (the batch is one transaction, its history and audit rows inside);
//  - every history and audit row of the batch carries the batch transaction's xmin;
//  - round trips: one per statement (our rows ride with the next statement and the COMMIT);
//  - the real binary killed (SU_CRASH_AT=statement) in the middle of the batch leaves no history
//    row, no table and no audit row at all (no "running" row for MarkInterrupted to explain),
//    and the next run applies every migration once with one "succeeded" row each.
// The drizzle-kit comparison itself lives in drizzle_integration_test.cc.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "reconcilers/base/process.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/engines/drizzle/drizzle_engine.h"
#include "tests/support/cli_runner.h"
#include "tests/support/fakes/counting.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using testing::CountingDatabase;
using testing::PgServer;
using testing::TempDir;

// A Drizzle Kit folder of n migrations, two statements each (a table and an index, like the
// benchmark's files).
void WriteFolder(const TempDir& dir, int n) {
  std::string journal = "{\n  \"version\": \"7\",\n  \"dialect\": \"postgresql\",\n  \"entries\": [";
  for (int i = 0; i < n; ++i) {
    char tag[32];
    std::snprintf(tag, sizeof tag, "%04d_t%d", i, i);
    const std::string t = "t" + std::to_string(i);
    dir.Write(std::string(tag) + ".sql", "CREATE TABLE \"" + t + "\" (\"id\" integer PRIMARY KEY, \"name\" text);\n" +
                                             "--> statement-breakpoint\nCREATE INDEX \"" + t + "_name\" ON \"" + t +
                                             "\" (\"name\");");
    journal += std::string(i ? "," : "") + "\n    {\"idx\": " + std::to_string(i) +
               ", \"version\": \"7\", \"when\": " + std::to_string(1700000000000LL + i) + ", \"tag\": \"" + tag +
               "\", \"breakpoints\": true}";
  }
  dir.Write("meta/_journal.json", journal + "\n  ]\n}\n");
}

class DrizzleCost : public ::testing::Test {
 protected:
  static std::unique_ptr<Database> Connect(const std::string& dsn) {
    auto db = ConnectPostgres(dsn, "drizzle-cost-test");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }
  static std::string Scalar(Database* db, const std::string& sql) {
    auto r = db->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    if (!r.ok() || r->rows.empty()) return "<none>";
    return r->Get(0, 0, "<null>");
  }

  struct Cost {
    long long commits = 0;        // xact_commit delta of the database (read-only ones included)
    long long writes = 0;         // xids consumed (write transactions)
    int round_trips = 0;
  };

  // Applies a fresh folder of n migrations to a fresh database (the history and audit tables made
  // by a first one-migration run, as on every run after the first) and counts what it cost.
  Cost ApplyCounted(int n) {
    Cost c;
    const std::string dsn = PgServer::Shared().CreateDatabase("dzcost");
    auto db = Connect(dsn);
    if (!db) return c;
    TempDir first, dir;
    WriteFolder(first, 1);
    WriteFolder(dir, n + 1);  // the same first migration, then n more
    RunReport warm = NewDrizzleEngine(LocalFileSystem(), first.path())->Apply(db.get(), RunContext{});
    EXPECT_TRUE(warm.status.ok()) << warm.status.ToString();
    auto engine = NewDrizzleEngine(LocalFileSystem(), dir.path());
    EXPECT_TRUE(engine->Observe(db.get()).ok());  // the pass observes before it applies

    // This session's counters reach pg_stat_database when it goes idle after a forced flush.
    const std::string flush = "SELECT pg_stat_force_next_flush()";
    const std::string read = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";
    Scalar(db.get(), flush);
    const long long commits_before = std::stoll(Scalar(db.get(), read));
    const long long xid_before = std::stoll(Scalar(db.get(), "SELECT txid_current()"));
    CountingDatabase counting(db.get());
    RunReport r = engine->Apply(&counting, RunContext{});
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.steps.size(), static_cast<size_t>(n));
    c.round_trips = counting.round_trips();
    const long long xid_after = std::stoll(Scalar(db.get(), "SELECT txid_current()"));
    Scalar(db.get(), flush);
    c.commits = std::stoll(Scalar(db.get(), read)) - commits_before;
    c.writes = xid_after - xid_before - 1;  // txid_current itself takes one

    // Every row this batch wrote, history and audit, was written by one transaction.
    EXPECT_EQ(Scalar(db.get(), "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM drizzle.__drizzle_migrations "
                               "WHERE id > 1 UNION ALL SELECT xmin::text FROM schema_upgrade_log WHERE version <> "
                               "'0000_t0') s"),
              "1");
    EXPECT_EQ(Scalar(db.get(), "SELECT count(*) FROM schema_upgrade_log WHERE status = 'succeeded'"),
              std::to_string(n + 1));
    EXPECT_EQ(Scalar(db.get(), "SELECT count(*) FROM schema_upgrade_log WHERE status <> 'succeeded'"), "0");
    return c;
  }
};

TEST_F(DrizzleCost, TenMoreMigrationsAddNoCommitAndTwoRoundTripsEach) {
  const Cost two = ApplyCounted(2);
  const Cost twelve = ApplyCounted(12);
  // Before issue 10 each migration cost two commits of its own (a "running" audit row before the
  // batch and its update after): 20 more here.
  EXPECT_LE(twelve.commits - two.commits, 0) << "commits: " << two.commits << " for 2 migrations, "
                                             << twelve.commits << " for 12";
  EXPECT_EQ(twelve.writes, two.writes) << "write transactions: " << two.writes << " for 2, " << twelve.writes
                                       << " for 12";
  EXPECT_LE(two.writes, 3) << "the batch, plus drizzle-orm's CREATE SCHEMA / CREATE TABLE IF NOT EXISTS";
  // Ten more migrations of two statements: twenty more round trips (psql: forty, BEGIN and COMMIT
  // each; drizzle-orm: thirty, with its history INSERTs).
  EXPECT_EQ(twelve.round_trips - two.round_trips, 10 * 2)
      << "round trips: " << two.round_trips << " for 2 migrations, " << twelve.round_trips << " for 12";
}

// The real binary, killed by SU_CRASH_AT in the middle of a drizzle batch, then run again.
TEST_F(DrizzleCost, KilledMidBatchLeavesNoAuditRowAndTheRerunAppliesEachOnce) {
  const std::string dsn = PgServer::Shared().CreateDatabase("dzcrash");
  auto db = Connect(dsn);
  ASSERT_TRUE(db);
  TempDir dir;
  WriteFolder(dir, 4);
  dir.Write("m/manifest.yaml", "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: dzcrash\n"
                               "spec:\n  service: dzcrash\n  targetVersion: v1\n  database:\n    dsnFrom:\n"
                               "      env: DZ_DSN\n  migrations:\n    engine: drizzle\n    path: " + dir.path() +
                               "\n  policy:\n    backup:\n      enabled: false\n");
  auto run = [&](const std::string& crash_at) {
    ProcessSpec spec;
    spec.argv = {testing::CliBinary(), "apply", "-f", dir.path() + "/m/manifest.yaml", "--quiet", "--state-dir",
                 dir.path() + "/state"};
    spec.env = {{"DZ_DSN", dsn}};
    if (!crash_at.empty()) spec.env["SU_CRASH_AT"] = crash_at;
    spec.timeout = std::chrono::minutes(5);
    auto r = PosixProcessRunner()->Run(spec);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ProcessResult{};
  };

  // Statement 5 of 8: the first two migrations ran and queued their rows, the third is next.
  ProcessResult killed = run("statement#5");
  ASSERT_EQ(killed.term_signal, SIGKILL) << "exit " << killed.exit_code << "\n" << killed.Tail(40);
  EXPECT_NE((killed.out + killed.err).find("crash point statement#5 reached"), std::string::npos) << killed.Tail(40);
  // The batch's session is gone with its transaction (the server notices the closed socket).
  EXPECT_EQ(Scalar(db.get(), "SELECT to_regclass('drizzle.__drizzle_migrations') IS NULL OR "
                             "(SELECT count(*) = 0 FROM drizzle.__drizzle_migrations)"),
            "t");
  EXPECT_EQ(Scalar(db.get(), "SELECT to_regclass('public.t0') IS NULL"), "t") << "the batch rolled back";
  EXPECT_EQ(Scalar(db.get(), "SELECT count(*) FROM schema_upgrade_log WHERE engine = 'drizzle'"), "0")
      << "a killed batch leaves no audit row: none is 'running', none needs MarkInterrupted";

  ProcessResult again = run("");
  ASSERT_EQ(again.exit_code, 0) << again.Tail(40);
  EXPECT_EQ(Scalar(db.get(), "SELECT count(*) FROM drizzle.__drizzle_migrations"), "4");
  EXPECT_EQ(Scalar(db.get(), "SELECT string_agg(version || ':' || status, ',' ORDER BY id) FROM schema_upgrade_log "
                             "WHERE engine = 'drizzle'"),
            "0000_t0:succeeded,0001_t1:succeeded,0002_t2:succeeded,0003_t3:succeeded");
  EXPECT_EQ(Scalar(db.get(), "SELECT count(*) FROM schema_upgrade_log WHERE status IN ('running', 'interrupted')"), "0");
}

}  // namespace
}  // namespace su
