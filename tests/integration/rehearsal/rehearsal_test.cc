// Rehearsal on a copy, on a real server: a failing migration is caught on the copy and the real
// database stays as it was; locks, their hold times, rows and table sizes are reported; the copy
// is dropped on success, on failure and when a killed run left one; both copy paths run
// (TEMPLATE when nobody else is connected, pg_dump | pg_restore when someone is); a copy on a
// second server (policy.rehearseOn) with neither server's password in the report or the logs;
// a pg_dump older than the source is a clear error before anything is copied.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <mutex>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/log.h"
#include "reconcilers/rehearsal/dump_versions.h"
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

  RehearsalReport Run(const std::string& server_dsn = "", const std::string& bin_dir = PgServer::BinDir()) {
    auto engine = NewSqlEngine(LocalFileSystem(), dir_.path());
    RehearsalOptions o;
    o.scratch.resource = resource_;
    o.scratch.bin_dir = bin_dir;
    o.scratch.temp_dir = tmp_.path();
    o.scratch.server_dsn = server_dsn;
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

// A second throwaway server, the rehearsal server of these tests (started once: a start costs
// an initdb), and every log line of the binary from then on (for the password checks).
class RehearsalServerTest : public RehearsalTest {
 protected:
  static PgServer& Other() {
    static PgServer other;  // stopped and deleted at exit
    return other;
  }
  static std::vector<std::string>& Logs() {
    static std::vector<std::string>* logs = [] {
      auto* l = new std::vector<std::string>();
      SetLogSink([l](const std::string& line) {
        static std::mutex mu;
        std::lock_guard<std::mutex> g(mu);
        l->push_back(line);
      });
      return l;
    }();
    return *logs;
  }
  void SetUp() override {
    RehearsalTest::SetUp();
    Logs();
  }
  std::string ScratchOnOther() {
    return Scalar(Other().Dsn(), "SELECT count(*) FROM pg_database WHERE datname = '" + ScratchDatabaseName(resource_) + "'");
  }
  // Neither server's password in the report's texts nor in any log line.
  void ExpectNoPassword(const RehearsalReport& r) {
    const std::string texts = RehearsalSummary(r) + RenderRehearsalText(r) + RenderRehearsalMarkdown(r) + r.error +
                              r.drop_error + r.template_skipped;
    for (const std::string& pw : {PgServer::Shared().password(), Other().password()}) {
      ASSERT_FALSE(pw.empty());
      EXPECT_EQ(texts.find(pw), std::string::npos) << "a password leaked into the report:\n" << texts;
      for (const auto& l : Logs()) EXPECT_EQ(l.find(pw), std::string::npos) << "a password leaked into a log line: " << l;
    }
  }
};

TEST_F(RehearsalServerTest, CopiesOntoTheServerNamedInTheSpecRunsThereAndDropsTheCopyThere) {
  dir_.Write("1_a.up.sql", "ALTER TABLE accounts ADD COLUMN a int;\nUPDATE accounts SET a = id;\n");

  RehearsalReport r = Run(Other().Dsn());  // URL DSN naming the postgres database

  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.other_server);
  EXPECT_EQ(r.copy_method, "dump-restore");
  EXPECT_NE(r.template_skipped.find("policy.rehearseOn"), std::string::npos) << r.template_skipped;
  ASSERT_EQ(r.migrations.size(), 1u);
  ASSERT_EQ(r.migrations[0].statements.size(), 2u);
  EXPECT_EQ(r.migrations[0].statements[1].rows, 1000) << "the source's rows came along to the other server";
  bool exclusive = false;
  for (const auto& l : r.migrations[0].locks) exclusive |= l.relation == "public.accounts" && l.mode == "AccessExclusiveLock";
  EXPECT_TRUE(exclusive) << RenderRehearsalText(r);
  EXPECT_TRUE(r.dropped);
  EXPECT_NE(RehearsalSummary(r).find("rehearsal ok on a copy on the rehearsal server (dump-restore, "), std::string::npos)
      << RehearsalSummary(r);
  EXPECT_NE(RenderRehearsalText(r).find(" on the rehearsal server (policy.rehearseOn) by dump-restore"), std::string::npos);
  // The copy was made on the other server and is gone from it; the source server never had one;
  // the source is as it was.
  EXPECT_EQ(ScratchOnOther(), "0");
  EXPECT_EQ(ScratchExists(), "0");
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'a'"),
            "0");
  bool logged = false;
  for (const auto& l : Logs()) logged |= l.find("event=rehearsal_copy_made") != std::string::npos &&
                                         l.find("server=rehearseOn") != std::string::npos;
  EXPECT_TRUE(logged);
  ExpectNoPassword(r);
}

TEST_F(RehearsalServerTest, AKeywordDsnNamingAnotherMaintenanceDatabaseIsUsedAsIs) {
  Exec(Other().Dsn(), "DROP DATABASE IF EXISTS rehearsal_admin");
  Exec(Other().Dsn(), "CREATE DATABASE rehearsal_admin");
  dir_.Write("1_a.up.sql", "CREATE INDEX accounts_email ON accounts (email);\n");
  RehearsalReport r = Run(Other().KeywordDsn("rehearsal_admin"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(ScratchOnOther(), "0");
  ExpectNoPassword(r);
}

TEST_F(RehearsalServerTest, AFailingMigrationOnTheOtherServerIsReportedAndTheCopyThereDropped) {
  dir_.Write("1_a.up.sql", "ALTER TABLE accounts ADD COLUMN a int;\nALTER TABLE accounts ADD COLUMN id int;\n");
  RehearsalReport r = Run(Other().Dsn());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failed_version, "1");
  EXPECT_EQ(r.failed_statement, 2);
  EXPECT_TRUE(r.dropped) << r.drop_error;
  EXPECT_EQ(ScratchOnOther(), "0");
  ExpectNoPassword(r);
}

TEST_F(RehearsalServerTest, AWrongPasswordForTheRehearsalServerSaysSoWithoutThePassword) {
  dir_.Write("1_a.up.sql", "ALTER TABLE accounts ADD COLUMN a int;\n");
  const std::string wrong = "NotTheRightPw4711";
  std::string dsn = Other().Dsn();
  const std::string pw = Other().password();
  dsn.replace(dsn.find(pw), pw.size(), wrong);

  RehearsalReport r = Run(dsn);

  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("connecting to the rehearsal server (policy.rehearseOn, database postgres)"), std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("password authentication failed"), std::string::npos) << r.error;
  const std::string all = RenderRehearsalText(r) + r.error;
  EXPECT_EQ(all.find(wrong), std::string::npos) << all;
  ExpectNoPassword(r);
  EXPECT_EQ(ScratchOnOther(), "0");
}

// A pg_dump older than the source server: a clear error before any copy is made (on the other
// server as on the source's own when the dump path is taken), not pg_dump's own abort half-way.
TEST_F(RehearsalServerTest, APgDumpOlderThanTheSourceIsAClearErrorBeforeAnythingIsCopied) {
  dir_.Write("1_a.up.sql", "ALTER TABLE accounts ADD COLUMN a int;\n");
  TempDir bin;
  const std::string fake = bin.Write("pg_dump", "#!/bin/sh\necho 'pg_dump (PostgreSQL) 13.16'\n");
  ASSERT_EQ(::chmod(fake.c_str(), 0755), 0);

  RehearsalReport r = Run(Other().Dsn(), bin.path());

  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("pg_dump is version 13 but the source server runs PostgreSQL 15: pg_dump cannot dump a "
                         "newer server; install pg_dump 15 or newer"),
            std::string::npos)
      << r.error;
  EXPECT_TRUE(r.migrations.empty());
  EXPECT_EQ(ScratchOnOther(), "0");
  ExpectNoPassword(r);
}

TEST(DumpVersions, TheTargetMustNotBeOlderThanTheSourceNorPgDumpOlderThanEither) {
  EXPECT_EQ(PgMajor(150014), 15);
  EXPECT_EQ(PgMajor(100000), 10);
  EXPECT_EQ(PgMajor(90624), 9);
  EXPECT_TRUE(CheckDumpVersions(15, 150014, 0).ok());
  EXPECT_TRUE(CheckDumpVersions(16, 150014, 160002).ok()) << "a newer target takes the dump";
  EXPECT_TRUE(CheckDumpVersions(15, 150014, 150001).ok());
  Status old_target = CheckDumpVersions(16, 160002, 140011);
  EXPECT_EQ(old_target.code(), Code::kInvalidArgument);
  EXPECT_NE(old_target.message().find("the rehearsal server runs PostgreSQL 14, older than the source's 16: a dump "
                                      "restores only into the same or a newer major version; point "
                                      "policy.rehearseOn at a PostgreSQL 16 (or newer) server"),
            std::string::npos)
      << old_target.message();
  Status old_dump = CheckDumpVersions(14, 150014, 0);
  EXPECT_EQ(old_dump.code(), Code::kInvalidArgument);
  EXPECT_NE(old_dump.message().find("pg_dump is version 14 but the source server runs PostgreSQL 15"), std::string::npos);
}

}  // namespace
}  // namespace su
