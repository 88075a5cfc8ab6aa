// Rehearsal on a copy, on a real server: a failing migration is caught on the copy and the real
// database stays as it was; locks, their hold times, rows and table sizes are reported; the copy
// is dropped on success, on failure and when a killed run left one; both copy paths run
// (TEMPLATE when nobody else is connected, pg_dump | pg_restore when someone is).
#include <gtest/gtest.h>

#include "reconcilers/base/fs.h"
#include "reconcilers/engines/sql/sql_engine.h"
#include "reconcilers/rehearsal/rehearsal.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using su::testing::PgServer;
using su::testing::TempDir;

class RehearsalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = PgServer::Shared().CreateDatabase("rehearse");
    resource_ = "default/" + PgServer::DbNameOf(dsn_);
    // 1000 rows, analyzed, so the report's sizes are real.
    Exec(dsn_, "CREATE TABLE accounts (id int PRIMARY KEY, email text); "
               "INSERT INTO accounts SELECT g, 'u' || g FROM generate_series(1, 1000) g; ANALYZE accounts");
  }

  // Each call opens and closes its own session: a session left open would keep TEMPLATE away.
  static std::string Scalar(const std::string& dsn, const std::string& sql) {
    auto db = ConnectPostgres(dsn, "rehearsal-test");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return "<no db>";
    auto r = (*db)->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() && !r->rows.empty() ? r->Get(0, 0, "<null>") : "<none>";
  }
  static void Exec(const std::string& dsn, const std::string& sql) {
    auto db = ConnectPostgres(dsn, "rehearsal-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    Status s = (*db)->ExecScript(sql);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string ScratchExists() {
    return Scalar(PgServer::Shared().Dsn(), "SELECT count(*) FROM pg_database WHERE datname = '" +
                                                ScratchDatabaseName(resource_) + "'");
  }

  RehearsalReport Run() {
    auto engine = NewSqlEngine(LocalFileSystem(), dir_.path());
    RehearsalOptions o;
    o.scratch.resource = resource_;
    o.scratch.bin_dir = PgServer::BinDir();
    o.scratch.temp_dir = tmp_.path();
    return Rehearse(engine.get(), dsn_, o, RunContext());
  }

  std::string dsn_, resource_;
  TempDir dir_, tmp_;
};

TEST_F(RehearsalTest, AFailingMigrationIsCaughtOnTheCopyAndTheRealDatabaseIsUntouched) {
  dir_.Write("1_add_plan.up.sql", "ALTER TABLE accounts ADD COLUMN plan text;\n");
  dir_.Write("2_broken.up.sql", "UPDATE accounts SET plan = 'free';\nINSERT INTO no_such_table VALUES (1);\n");

  RehearsalReport r = Run();

  EXPECT_TRUE(r.ran);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failed_version, "2");
  EXPECT_EQ(r.failed_statement, 2);
  EXPECT_NE(r.error.find("no_such_table"), std::string::npos) << r.error;
  ASSERT_EQ(r.migrations.size(), 2u);
  EXPECT_TRUE(r.migrations[0].ok);
  EXPECT_FALSE(r.migrations[1].ok);
  ASSERT_EQ(r.migrations[1].statements.size(), 2u);
  EXPECT_EQ(r.migrations[1].statements[0].rows, 1000);  // the UPDATE's rows, on the copy
  EXPECT_NE(r.migrations[1].statements[1].error, "");
  std::string summary = RehearsalSummary(r);
  EXPECT_NE(summary.find("FAILED at migration 2 statement 2"), std::string::npos) << summary;

  // The real database: no new column, no history, rows as they were; the copy is gone.
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'plan'"), "0");
  EXPECT_EQ(Scalar(dsn_, "SELECT to_regclass('schema_migration') IS NULL"), "t");
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM accounts"), "1000");
  EXPECT_TRUE(r.dropped);
  EXPECT_EQ(ScratchExists(), "0");
}

TEST_F(RehearsalTest, ReportsTheLocksAnAlterTookHowLongAndTheTableSizes) {
  // The sleep keeps the ALTER's lock held inside the migration's transaction for >= 300 ms.
  dir_.Write("1_alter.up.sql", "ALTER TABLE accounts ADD COLUMN verified boolean;\nSELECT pg_sleep(0.3);\n");
  dir_.Write("2_new.up.sql", "CREATE TABLE audit_events (id bigint);\n");

  RehearsalReport r = Run();

  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.migrations.size(), 2u);
  const RehearsedMigration& m = r.migrations[0];
  EXPECT_EQ(m.version, "1");
  EXPECT_GE(m.duration_ms, 300);
  const RehearsedLock* alter = nullptr;
  for (const auto& l : m.locks) {
    if (l.relation == "public.accounts" && l.mode == "AccessExclusiveLock") alter = &l;
  }
  ASSERT_NE(alter, nullptr) << RenderRehearsalText(r);
  EXPECT_EQ(alter->statement, 1);
  EXPECT_GE(alter->held_ms, 300);  // to COMMIT, after the sleep
  ASSERT_FALSE(m.tables.empty());
  EXPECT_EQ(m.tables[0].name, "public.accounts");
  EXPECT_EQ(m.tables[0].rows, 1000);
  EXPECT_GT(m.tables[0].bytes, 0);
  // No lock of the engine's own history table is charged to a migration.
  for (const auto& mig : r.migrations) {
    for (const auto& l : mig.locks) EXPECT_EQ(l.relation.find("schema_migration"), std::string::npos) << l.relation;
  }
  EXPECT_NE(RenderRehearsalText(r).find("lock AccessExclusiveLock on public.accounts (statement 1)"), std::string::npos)
      << RenderRehearsalText(r);
  EXPECT_NE(RenderRehearsalMarkdown(r).find("AccessExclusiveLock on `public.accounts`"), std::string::npos);

  // Success: the copy is gone and the real database untouched.
  EXPECT_TRUE(r.dropped);
  EXPECT_EQ(ScratchExists(), "0");
  EXPECT_EQ(Scalar(dsn_, "SELECT to_regclass('audit_events') IS NULL"), "t");
}

TEST_F(RehearsalTest, CopiesByTemplateWhenNobodyElseIsConnected) {
  dir_.Write("1_a.up.sql", "ALTER TABLE accounts ADD COLUMN a int;\n");
  RehearsalReport r = Run();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.copy_method, "template");
  EXPECT_EQ(r.template_skipped, "");
}

TEST_F(RehearsalTest, CopiesByDumpAndRestoreWhenSomeoneIsConnectedAndLeavesTheirSessionAlone) {
  dir_.Write("1_a.up.sql", "ALTER TABLE accounts ADD COLUMN a int;\nUPDATE accounts SET a = id;\n");
  auto user = ConnectPostgres(dsn_, "someone-else");
  ASSERT_TRUE(user.ok());

  RehearsalReport r = Run();

  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.copy_method, "dump-restore");
  EXPECT_NE(r.template_skipped.find("1 other session(s)"), std::string::npos) << r.template_skipped;
  ASSERT_EQ(r.migrations.size(), 1u);
  ASSERT_EQ(r.migrations[0].statements.size(), 2u);
  EXPECT_EQ(r.migrations[0].statements[1].rows, 1000);  // the data came along
  auto still = (*user)->Query("SELECT 1");
  EXPECT_TRUE(still.ok()) << "the other session was disturbed: " << still.status().ToString();
  EXPECT_EQ(ScratchExists(), "0");
}

TEST_F(RehearsalTest, ACopyLeftByAKilledRunIsDroppedByTheNextRehearsal) {
  // What a run killed between copy and drop leaves: the resource's scratch database.
  Exec(PgServer::Shared().Dsn(), "CREATE DATABASE " + QuoteIdent(ScratchDatabaseName(resource_)));
  ASSERT_EQ(ScratchExists(), "1");
  dir_.Write("1_a.up.sql", "ALTER TABLE accounts ADD COLUMN a int;\n");

  RehearsalReport r = Run();

  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.migrations.size(), 1u);  // on a fresh copy of the source, not on the leftover
  EXPECT_EQ(ScratchExists(), "0");
}

TEST_F(RehearsalTest, ScratchNamesAreDerivedFromTheResourceAndQuotedDsnsKeepThePassword) {
  EXPECT_EQ(ScratchDatabaseName("a/b"), ScratchDatabaseName("a/b"));
  EXPECT_NE(ScratchDatabaseName("a/b"), ScratchDatabaseName("a/c"));
  EXPECT_EQ(ScratchDatabaseName("a/b").rfind("su_rehearse_", 0), 0u);
  auto d = DsnWithDatabase(dsn_, "x'y");
  ASSERT_TRUE(d.ok());
  EXPECT_NE(d->find("dbname='x\\'y'"), std::string::npos) << "quoted";
  auto bad = DsnWithDatabase("postgres://u:secretpw@h:notaport/db?bogus=1", "x");
  if (!bad.ok()) {
    EXPECT_EQ(bad.status().message().find("secretpw"), std::string::npos);
  }
}

}  // namespace
}  // namespace su
