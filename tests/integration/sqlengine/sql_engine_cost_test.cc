// What a run of the sql engine costs, counted rather than timed (issue 10), on a real server:
// file reads per migration file (each read once per run, SHA-256 and the split with it), round
// trips per statement (BEGIN rides with the first statement, history, audit and COMMIT with the
// last), one write transaction per migration (xids consumed), a no-op observe in one query, and
// error positions and statement numbers that stay right inside a batched round trip.
#include <gtest/gtest.h>

#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/engines/sql/sql_engine.h"
#include "tests/support/fakes/counting.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using su::testing::CountingDatabase;
using su::testing::CountingFileSystem;
using su::testing::PgServer;
using su::testing::TempDir;

class SqlEngineCostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = PgServer::Shared().CreateDatabase("sqlcost");
    auto db = ConnectPostgres(dsn_, "sqlcost-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }

  void Up(int i, const std::string& sql) {
    dir_.Write(std::to_string(i) + "_m" + std::to_string(i) + ".up.sql", sql);
  }
  std::string Path(int i) { return dir_.path() + "/" + std::to_string(i) + "_m" + std::to_string(i) + ".up.sql"; }
  // Two statements, like the benchmark's files.
  void TwoStatements(int i) {
    Up(i, "CREATE TABLE t" + std::to_string(i) + " (id int PRIMARY KEY, name text);\nCREATE INDEX t" +
              std::to_string(i) + "_name ON t" + std::to_string(i) + " (name);\n");
  }

  RunReport ApplyWith(Engine* engine, Database* db, RunContext ctx = RunContext()) {
    auto lock = MigrationLock::Acquire(db_.get(), LockKeyFor("sqlcost:" + PgServer::DbNameOf(dsn_)),
                                       std::chrono::seconds(60), RealClock(), std::chrono::milliseconds(10));
    EXPECT_TRUE(lock.ok()) << lock.status().ToString();
    return engine->Apply(db, ctx);
  }

  std::string Scalar(const std::string& sql) {
    auto r = db_->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    if (!r.ok() || r->rows.empty()) return "<none>";
    return r->Get(0, 0, "<null>");
  }

  std::string dsn_;
  std::unique_ptr<Database> db_;
  TempDir dir_;
};

TEST_F(SqlEngineCostTest, AReconcilePassReadsEachFileOnceAcrossObserveLintApplyAndReobserve) {
  for (int i = 1; i <= 5; ++i) TwoStatements(i);
  CountingFileSystem fs(LocalFileSystem());
  // One engine per pass, as the reconciler makes it: observe (with lint), observe again under the
  // lock, apply, observe the result.
  auto engine = NewSqlEngine(&fs, dir_.path());
  auto first = engine->Observe(db_.get());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->pending.size(), 5u);
  ASSERT_EQ(first->pending[0].statements.size(), 2u);
  EXPECT_NE(first->pending[0].statements[1].find("CREATE INDEX t1_name"), std::string::npos);
  auto again = engine->Observe(db_.get());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  RunContext ctx;
  ctx.approved = first->pending;
  RunReport r = ApplyWith(engine.get(), db_.get(), ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.steps.size(), 5u);
  auto after = engine->Observe(db_.get());
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->pending.empty());
  EXPECT_TRUE(after->drift.empty());
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(fs.reads(Path(i)), 1) << Path(i);
  EXPECT_EQ(fs.total_reads(), 5);

  // A later pass (the controller's next resync) reads nothing while no file changed...
  auto next = NewSqlEngine(&fs, dir_.path());
  ASSERT_TRUE(next->Observe(db_.get()).ok());
  EXPECT_EQ(fs.total_reads(), 5);
  // ...and an edited file is read again (and reported as drift).
  Up(3, "CREATE TABLE t3 (id int PRIMARY KEY, name text, edited int);\n");
  auto edited = NewSqlEngine(&fs, dir_.path())->Observe(db_.get());
  ASSERT_TRUE(edited.ok()) << edited.status().ToString();
  EXPECT_EQ(fs.reads(Path(3)), 2);
  ASSERT_EQ(edited->drift.size(), 1u);
  EXPECT_EQ(edited->drift[0].file, Path(3));
}

TEST_F(SqlEngineCostTest, AFileChangedAfterThePlanIsReadAgainAndRefusedUnderTheLock) {
  TwoStatements(1);
  auto engine = NewSqlEngine(LocalFileSystem(), dir_.path());
  auto plan = engine->Observe(db_.get());
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  Up(1, "DROP TABLE IF EXISTS somebody_elses;\n");  // edited between plan and apply
  RunContext ctx;
  ctx.approved = plan->pending;
  RunReport r = ApplyWith(engine.get(), db_.get(), ctx);
  EXPECT_EQ(r.status.code(), Code::kGated) << r.status.ToString();
  EXPECT_TRUE(r.plan_changed);
  EXPECT_EQ(Scalar("SELECT to_regclass('t1') IS NULL"), "t");
}

TEST_F(SqlEngineCostTest, EachStatementCostsOneRoundTripAndEachMigrationOneCommit) {
  TwoStatements(1);
  CountingDatabase counting(db_.get());
  {  // warm up: history and audit tables exist from here on
    auto engine = NewSqlEngine(LocalFileSystem(), dir_.path());
    ASSERT_TRUE(ApplyWith(engine.get(), &counting).status.ok());
  }
  auto run = [&](int from, int to) {
    for (int i = from; i <= to; ++i) TwoStatements(i);
    counting.Reset();
    auto engine = NewSqlEngine(LocalFileSystem(), dir_.path());
    const long long xid_before = std::stoll(Scalar("SELECT txid_current()"));
    RunReport r = ApplyWith(engine.get(), &counting);
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.steps.size(), static_cast<size_t>(to - from + 1));
    const long long xid_after = std::stoll(Scalar("SELECT txid_current()"));
    // Write transactions in between: one per migration (txid_current itself takes the +1).
    EXPECT_EQ(xid_after - xid_before - 1, to - from + 1) << "write transactions for " << (to - from + 1)
                                                            << " migrations";
    return counting.round_trips();
  };
  const int two = run(2, 3);
  const int six = run(4, 9);
  // Four more files of two statements each: eight more round trips (psql needs four per file).
  EXPECT_EQ(six - two, 4 * 2) << "round trips: " << two << " for 2 files, " << six << " for 6";
  // The migration, its history row and its audit row are written by one transaction.
  EXPECT_EQ(Scalar("SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM schema_migration WHERE version = '5' "
                   "UNION ALL SELECT xmin::text FROM schema_upgrade_checksum WHERE version = '5' "
                   "UNION ALL SELECT xmin::text FROM schema_upgrade_log WHERE version = '5' "
                   "UNION ALL SELECT xmin::text FROM pg_class WHERE relname = 't5') s"),
            "1");
  EXPECT_EQ(Scalar("SELECT status || ' ' || statements_applied || '/' || statements_total FROM schema_upgrade_log "
                   "WHERE version = '5'"),
            "succeeded 2/2");
}

// Counts copies of itself: a RunContext copy copies its std::function members, and with them this.
struct CopyCounter {
  int* copies;
  CopyCounter(int* c) : copies(c) {}
  CopyCounter(const CopyCounter& o) : copies(o.copies) { ++*copies; }
  bool operator()() const { return false; }
};

TEST_F(SqlEngineCostTest, TheRunContextAndItsApprovedPlanAreNotCopiedPerFile) {
  // The context carries the approved plan (every pending file's statements): a copy per file made
  // a run of N files O(N^2) (a third of the client's instructions at N = 300 before issue 10).
  auto copies_for = [&](int from, int to) {
    for (int i = from; i <= to; ++i) TwoStatements(i);
    auto engine = NewSqlEngine(LocalFileSystem(), dir_.path());
    auto plan = engine->Observe(db_.get());
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    int copies = 0;
    RunContext ctx;
    ctx.approved = plan.ok() ? plan->pending : std::vector<PendingMigration>{};
    ctx.cancelled = CopyCounter(&copies);
    copies = 0;
    RunReport r = ApplyWith(engine.get(), db_.get(), ctx);
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.steps.size(), static_cast<size_t>(to - from + 1));
    return copies;
  };
  const int two = copies_for(1, 2);
  const int eight = copies_for(3, 10);
  EXPECT_EQ(eight, two) << "context copies: " << two << " for 2 files, " << eight << " for 8";
}

TEST_F(SqlEngineCostTest, ObservingAnAppliedFolderAgainIsOneQuery) {
  for (int i = 1; i <= 20; ++i) TwoStatements(i);
  {
    auto engine = NewSqlEngine(LocalFileSystem(), dir_.path());
    ASSERT_TRUE(ApplyWith(engine.get(), db_.get()).status.ok());
  }
  CountingDatabase counting(db_.get());
  auto state = NewSqlEngine(LocalFileSystem(), dir_.path())->Observe(&counting);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->applied.size(), 20u);
  EXPECT_TRUE(state->pending.empty());
  EXPECT_EQ(counting.round_trips(), 1) << ::testing::PrintToString(counting.sent());
}

TEST_F(SqlEngineCostTest, AFailingStatementInABatchedRoundTripIsNamedWithItsOwnPosition) {
  Up(1, "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nSELEC 1;\n");  // a syntax error in the last
  Up(2, "CREATE TABLE c (id int);\nINSERT INTO c VALUES (1), (1);\nCREATE UNIQUE INDEX c_id ON c (id);\n");
  auto engine = NewSqlEngine(LocalFileSystem(), dir_.path());
  RunReport r = ApplyWith(engine.get(), db_.get());
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.failed_version, "1");
  EXPECT_EQ(r.failed_statement_index, 3) << r.status.ToString();
  EXPECT_EQ(r.failed_statement_line, 3);
  EXPECT_NE(r.status.message().find("at character 1"), std::string::npos) << r.status.message();
  EXPECT_EQ(Scalar("SELECT to_regclass('a') IS NULL AND to_regclass('b') IS NULL"), "t");
  EXPECT_EQ(Scalar("SELECT status || ' ' || statements_applied FROM schema_upgrade_log WHERE version = '1'"),
            "failed 0");
  // The session is usable afterwards (not left in an aborted transaction): the next apply runs on it.

  Up(1, "CREATE TABLE a (id int);\n");
  RunReport second = ApplyWith(NewSqlEngine(LocalFileSystem(), dir_.path()).get(), db_.get());
  ASSERT_FALSE(second.status.ok());
  EXPECT_EQ(second.failed_version, "2");
  EXPECT_EQ(second.failed_statement_index, 3) << second.status.ToString();
  EXPECT_EQ(second.status.sqlstate(), "23505");
  EXPECT_EQ(Scalar("SELECT to_regclass('a') IS NOT NULL AND to_regclass('c') IS NULL"), "t");
  EXPECT_EQ(Scalar("SELECT string_agg(version, ',' ORDER BY version) FROM schema_migration"), "1");
}

}  // namespace
}  // namespace su
