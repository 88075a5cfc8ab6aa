// Expand/contract phases in the sql and drizzle engines against a real PostgreSQL: the
// `-- schema-upgrade: phase=contract` header is read into PendingMigration::phase, an expand-only
// run stops before the first contract migration, a bad directive refuses the folder naming file
// and line with nothing applied, and lint pairs destructive statements in expand files of a
// phased folder (errors, "move it to a contract step"), leaving other folders' findings alone.
#include <gtest/gtest.h>

#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/engines/drizzle/drizzle_engine.h"
#include "reconcilers/engines/sql/sql_engine.h"
#include "reconcilers/engines/sql/sql_folder.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using su::testing::PgServer;
using su::testing::TempDir;

class SqlPhasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = PgServer::Shared().CreateDatabase("sqlphases");
    auto db = ConnectPostgres(dsn_, "sqlphases-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }
  std::unique_ptr<Engine> Sql() { return NewSqlEngine(LocalFileSystem(), dir_.path(), "public", {}); }
  RunReport ApplyLocked(Engine* e, const RunContext& ctx) {
    auto lock = MigrationLock::AcquireForDatabase(db_.get(), std::chrono::seconds(30), RealClock());
    EXPECT_TRUE(lock.ok()) << lock.status().ToString();
    return e->Apply(db_.get(), ctx);
  }
  std::string Scalar(const std::string& sql) {
    auto r = db_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && !r->rows.empty() ? r->Get(0, 0, "<null>") : "<none>";
  }
  std::string History() {
    auto r = db_->Query("SELECT coalesce(string_agg(version, ',' ORDER BY version), '') FROM schema_migration");
    return r.ok() && !r->rows.empty() ? r->Get(0, 0) : "<no history>";
  }
  void ExpandContractFolder() {
    dir_.Write("001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY, mail text);\n");
    dir_.Write("002_add_email.up.sql",
               "-- Expand: the new column, written by both versions.\n"
               "ALTER TABLE users ADD COLUMN email text;\n");
    dir_.Write("003_drop_mail.up.sql",
               "-- The old version reads mail: only once it is gone.\n"
               "-- schema-upgrade: phase=contract\n"
               "ALTER TABLE users DROP COLUMN mail;\n");
  }
  std::string dsn_;
  std::unique_ptr<Database> db_;
  TempDir dir_;
};

TEST_F(SqlPhasesTest, ExpandOnlyRunStopsBeforeTheContractMigration) {
  ExpandContractFolder();
  auto engine = Sql();
  auto st = engine->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->pending.size(), 3u);
  EXPECT_EQ(st->pending[0].phase, MigrationPhase::kExpand);
  EXPECT_EQ(st->pending[1].phase, MigrationPhase::kExpand);
  EXPECT_EQ(st->pending[2].phase, MigrationPhase::kContract);
  EXPECT_TRUE(st->uses_phases);

  RunContext ctx;
  ctx.expand_only = true;
  ctx.approved = st->pending;  // the whole plan passed the gates; the run applies its expand part
  RunReport r = ApplyLocked(engine.get(), ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(History(), "001,002");
  EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name='users' AND column_name='mail'"),
            "1")
      << "the old version's column is still there";
  // Again: nothing more (the contract migration is not expand).
  r = ApplyLocked(engine.get(), ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.steps.empty());
  // The contract phase.
  r = ApplyLocked(engine.get(), RunContext{});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(History(), "001,002,003");
  EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name='users' AND column_name='mail'"),
            "0");
}

TEST_F(SqlPhasesTest, ABadDirectiveRefusesTheFolderNamingFileAndLineWithNothingApplied) {
  dir_.Write("001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
  dir_.Write("002_drop.up.sql", "-- header\n-- schema-upgrade: phase=contrct\nDROP TABLE users;\n");
  auto engine = Sql();
  auto st = engine->Observe(db_.get());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), Code::kInvalidArgument);
  EXPECT_NE(st.status().message().find("002_drop.up.sql: line 2: phase=contrct is not a phase; write phase=expand "
                                       "(the default) or phase=contract"),
            std::string::npos)
      << st.status().message();
  RunReport r = ApplyLocked(engine.get(), RunContext{});
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(Scalar("SELECT to_regclass('public.users') IS NULL"), "t") << "nothing ran";

  dir_.Write("002_drop.up.sql", "-- schema-upgrade: phaze=contract\nDROP TABLE users;\n");
  st = Sql()->Observe(db_.get());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("002_drop.up.sql: line 1: unknown schema-upgrade directive 'phaze' (known: "
                                       "phase"),
            std::string::npos)
      << st.status().message();

  // A lint-ignore line in the header is the linter's, not an unknown directive.
  dir_.Write("002_drop.up.sql",
             "-- schema-upgrade: lint-ignore drop-table\n-- schema-upgrade: phase=contract\nDROP TABLE users;\n");
  st = Sql()->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->pending[1].phase, MigrationPhase::kContract);
}

const LintFinding* FindingOf(const PendingMigration& m, const std::string& rule) {
  for (const auto& f : m.findings) {
    if (f.rule == rule) return &f;
  }
  return nullptr;
}

TEST_F(SqlPhasesTest, LintPairsDestructiveExpandStatementsInPhasedFoldersOnly) {
  dir_.Write("001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY, mail text, nick text);\n");
  dir_.Write("002_expand.up.sql", "ALTER TABLE users DROP COLUMN nick;\n");
  // No directive anywhere: today's warning.
  auto st = Sql()->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  const LintFinding* f = FindingOf(st->pending[1], "drop-column");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, LintSeverity::kWarning);
  EXPECT_FALSE(st->uses_phases);

  // The folder uses phases: the same statement in an expand file is an error with the fix.
  dir_.Write("003_contract.up.sql", "-- schema-upgrade: phase=contract\nALTER TABLE users DROP COLUMN mail;\n");
  st = Sql()->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  f = FindingOf(st->pending[1], "drop-column");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, LintSeverity::kError);
  EXPECT_NE(f->suggestion.find("move it to a contract step"), std::string::npos) << f->suggestion;
  const LintFinding* in_contract = FindingOf(st->pending[2], "drop-column");
  ASSERT_NE(in_contract, nullptr);
  EXPECT_EQ(in_contract->severity, LintSeverity::kWarning) << "where it belongs: today's finding";

  // Applied contract files count too: the folder still uses phases once they ran.
  auto engine = Sql();
  ASSERT_TRUE(ApplyLocked(engine.get(), RunContext{}).status.ok());
  dir_.Write("004_rename.up.sql", "ALTER TABLE users RENAME COLUMN id TO user_id;\n");
  st = Sql()->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->pending.size(), 1u);
  f = FindingOf(st->pending[0], "rename-column");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, LintSeverity::kError);
  EXPECT_TRUE(st->uses_phases);
}

TEST_F(SqlPhasesTest, DrizzleExpandOnlyBatchStopsBeforeTheContractEntry) {
  dir_.Write("meta/_journal.json",
             "{\"version\":\"7\",\"dialect\":\"postgresql\",\"entries\":["
             "{\"idx\":0,\"version\":\"7\",\"when\":1700000000000,\"tag\":\"0000_users\",\"breakpoints\":true},"
             "{\"idx\":1,\"version\":\"7\",\"when\":1700000000001,\"tag\":\"0001_add_email\",\"breakpoints\":true},"
             "{\"idx\":2,\"version\":\"7\",\"when\":1700000000002,\"tag\":\"0002_drop_mail\",\"breakpoints\":true}]}");
  dir_.Write("0000_users.sql", "CREATE TABLE \"users\" (\"id\" integer PRIMARY KEY, \"mail\" text);");
  dir_.Write("0001_add_email.sql", "ALTER TABLE \"users\" ADD COLUMN \"email\" text;");
  dir_.Write("0002_drop_mail.sql", "-- schema-upgrade: phase=contract\nALTER TABLE \"users\" DROP COLUMN \"mail\";");
  auto engine = NewDrizzleEngine(LocalFileSystem(), dir_.path());
  auto st = engine->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->pending.size(), 3u);
  EXPECT_EQ(st->pending[2].phase, MigrationPhase::kContract);
  EXPECT_TRUE(st->uses_phases);
  RunContext ctx;
  ctx.expand_only = true;
  RunReport r = ApplyLocked(engine.get(), ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.steps.size(), 2u);
  auto after = engine->Observe(db_.get());
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->pending.size(), 1u) << "drizzle-orm would still see the contract entry pending";
  EXPECT_EQ(after->pending[0].version, "0002_drop_mail");
  r = ApplyLocked(engine.get(), RunContext{});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Scalar("SELECT count(*) FROM drizzle.__drizzle_migrations"), "3");

  dir_.Write("0002_drop_mail.sql", "-- schema-upgrade: phase=later\nSELECT 1;");
  auto bad = NewDrizzleEngine(LocalFileSystem(), dir_.path())->Observe(db_.get());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("0002_drop_mail.sql: line 1: phase=later is not a phase"), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace su
