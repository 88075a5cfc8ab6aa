// The drizzle engine against a real PostgreSQL and the real drizzle-kit (pinned in
// tests/fixtures/node/package.json, installed by tests/fixtures/node/install.sh when missing):
//  - our Apply, then `drizzle-kit migrate` changes nothing, and our history rows are identical
//    (id, hash, created_at) to drizzle-kit's on a fresh database, with an identical schema dump;
//  - `drizzle-kit migrate` of the first half, then our Observe lists exactly the rest and our
//    Apply completes it;
//  - a failing statement rolls the whole batch back with audit rows saying so; a held lock ends
//    in kLockTimeout after the retries; an edited applied file is drift.
// The DSN reaches drizzle-kit through the environment (DATABASE_URL), never argv.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reconcilers/base/process.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/engines/drizzle/drizzle_engine.h"
#include "reconcilers/engines/drizzle/journal.h"
#include "tests/integration/drizzle/drizzle_kit.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

namespace fs = std::filesystem;
using testing::PgServer;
using testing::TempDir;

std::string AthenaDir() { return testing::DrizzleSourceDir() + "/tests/fixtures/drizzle/athena"; }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DrizzleKit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::InstallDrizzleKitIfMissing(); }

  static std::unique_ptr<Database> Connect(const std::string& dsn) {
    auto db = ConnectPostgres(dsn, "drizzle-test");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  static void KitMigrate(const std::string& dsn, const std::string& folder) { testing::KitMigrate(dsn, folder); }
  static std::string HistoryRows(Database* db) { return testing::DrizzleHistoryRows(db); }

  // pg_dump --schema-only of the application and drizzle schemas (not our audit table).
  static std::string SchemaDump(const std::string& dsn) {
    ProcessSpec spec;
    spec.argv = {PgServer::BinDir() + "/pg_dump", "--schema-only", "--no-owner", "--exclude-table=public.schema_upgrade_log*",
                 "-h", "127.0.0.1", "-p", std::to_string(PgServer::Shared().port()), "-U", "postgres",
                 PgServer::DbNameOf(dsn)};
    spec.env = {{"PGPASSWORD", PgServer::Shared().password()}};
    auto r = PosixProcessRunner()->Run(spec);
    EXPECT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Tail() : r.status().ToString());
    if (!r.ok()) return "";
    // pg_dump 15.14+/16.10+ write a random \restrict key per run.
    std::string out, line;
    std::istringstream in(r->out);
    while (std::getline(in, line))
      if (line.rfind("\\restrict", 0) != 0 && line.rfind("\\unrestrict", 0) != 0) out += line + "\n";
    return out;
  }

  // A copy of the athena folder whose journal lists only its first n entries.
  static void CopyFirst(const TempDir& dir, size_t n) {
    fs::copy(AthenaDir(), dir.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    auto j = ParseDrizzleJournal("journal", ReadAll(AthenaDir() + "/meta/_journal.json"));
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    std::string out = "{\n  \"version\": \"7\",\n  \"dialect\": \"postgresql\",\n  \"entries\": [";
    for (size_t i = 0; i < n && i < j->entries.size(); ++i) {
      const auto& e = j->entries[i];
      out += std::string(i ? "," : "") + "\n    {\"idx\": " + std::to_string(e.idx) + ", \"version\": \"" + e.version +
             "\", \"when\": " + std::to_string(e.when) + ", \"tag\": \"" + e.tag + "\", \"breakpoints\": true}";
    }
    out += "\n  ]\n}";
    dir.Write("meta/_journal.json", out);
  }

  static std::vector<std::string> Versions(const std::vector<PendingMigration>& p) {
    std::vector<std::string> v;
    for (const auto& m : p) v.push_back(m.version);
    return v;
  }
  static std::vector<std::string> Versions(const std::vector<AppliedMigration>& p) {
    std::vector<std::string> v;
    for (const auto& m : p) v.push_back(m.version);
    return v;
  }

  const std::vector<std::string> kAll = {"0000_init_tenants_users", "0001_roles",        "0002_sessions",
                                         "0003_user_profile",       "0004_audit_events", "0005_touch_last_login"};
};

TEST_F(DrizzleKit, OurApplyWritesExactlyWhatDrizzleKitWritesAndLeavesItNothingToDo) {
  const std::string ours_dsn = PgServer::Shared().CreateDatabase("dz_ours");
  const std::string kit_dsn = PgServer::Shared().CreateDatabase("dz_kit");
  auto ours = Connect(ours_dsn);
  auto kit = Connect(kit_dsn);
  ASSERT_TRUE(ours && kit);

  auto engine = NewDrizzleEngine(LocalFileSystem(), AthenaDir());
  auto before = engine->Observe(ours.get());
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(Versions(before->pending), kAll);
  auto q = ours->Query("SELECT to_regnamespace('drizzle') IS NULL");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->Get(0, 0), "t") << "Observe must write nothing";

  RunContext ctx;
  RunReport rep = engine->Apply(ours.get(), ctx);
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  ASSERT_EQ(rep.steps.size(), 6u);
  EXPECT_EQ(rep.steps[5].statements, 2);

  KitMigrate(kit_dsn, AthenaDir());
  const std::string kit_rows = HistoryRows(kit.get());
  EXPECT_EQ(HistoryRows(ours.get()), kit_rows);
  EXPECT_EQ(std::count(kit_rows.begin(), kit_rows.end(), '\n'), 6);
  const std::string ours_dump = SchemaDump(ours_dsn);
  EXPECT_EQ(ours_dump, SchemaDump(kit_dsn));
  EXPECT_NE(ours_dump.find("sessions_touch_last_login"), std::string::npos);

  // drizzle-kit after us: nothing to do (no new row, schema unchanged).
  KitMigrate(ours_dsn, AthenaDir());
  EXPECT_EQ(HistoryRows(ours.get()), kit_rows);
  EXPECT_EQ(SchemaDump(ours_dsn), ours_dump);

  // And we agree with drizzle-kit's database: everything applied, nothing pending or drifted.
  auto after = engine->Observe(kit.get());
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->pending.empty());
  EXPECT_TRUE(after->drift.empty());
  EXPECT_TRUE(after->unknown.empty());
  EXPECT_EQ(Versions(after->applied), kAll);
  EXPECT_EQ(after->current_version, kAll.back());
  RunReport again = engine->Apply(kit.get(), ctx);
  EXPECT_TRUE(again.status.ok());
  EXPECT_TRUE(again.steps.empty());

  auto audit = AuditLog(ours.get()).List(20);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 6u);
  for (const auto& e : *audit) {
    EXPECT_EQ(e.status, "succeeded") << e.version;
    EXPECT_EQ(e.engine, "drizzle");
  }
}

TEST_F(DrizzleKit, AfterDrizzleKitMigratesTheFirstHalfWeListAndApplyExactlyTheRest) {
  TempDir half;
  CopyFirst(half, 3);
  const std::string dsn = PgServer::Shared().CreateDatabase("dz_half");
  KitMigrate(dsn, half.path());
  auto db = Connect(dsn);
  ASSERT_TRUE(db);

  auto engine = NewDrizzleEngine(LocalFileSystem(), AthenaDir());
  auto st = engine->Observe(db.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Versions(st->applied), std::vector<std::string>(kAll.begin(), kAll.begin() + 3));
  EXPECT_EQ(Versions(st->pending), std::vector<std::string>(kAll.begin() + 3, kAll.end()));
  EXPECT_TRUE(st->drift.empty());
  EXPECT_EQ(st->current_version, "0002_sessions");

  RunReport rep = engine->Apply(db.get(), RunContext{});
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  ASSERT_EQ(rep.steps.size(), 3u);
  EXPECT_EQ(rep.steps[0].version, "0003_user_profile");

  // Same rows as drizzle-kit applying the whole folder to a fresh database.
  const std::string full_dsn = PgServer::Shared().CreateDatabase("dz_full");
  KitMigrate(full_dsn, AthenaDir());
  auto full = Connect(full_dsn);
  const std::string rows = HistoryRows(db.get());
  EXPECT_EQ(rows, HistoryRows(full.get()));
  KitMigrate(dsn, AthenaDir());
  EXPECT_EQ(HistoryRows(db.get()), rows);
}

TEST_F(DrizzleKit, FailingStatementRollsBackTheWholeBatch) {
  TempDir dir;
  fs::copy(AthenaDir(), dir.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  std::string journal = ReadAll(AthenaDir() + "/meta/_journal.json");
  journal.insert(journal.rfind(']'), ",{\"idx\":6,\"version\":\"7\",\"when\":1895611195716,\"tag\":\"0006_broken\",\"breakpoints\":true}");
  dir.Write("meta/_journal.json", journal);
  dir.Write("0006_broken.sql",
            "ALTER TABLE \"users\" ADD COLUMN \"nickname\" text;--> statement-breakpoint\n"
            "CREATE INDEX \"x\" ON \"no_such_table\" (\"id\");");
  const std::string dsn = PgServer::Shared().CreateDatabase("dz_fail");
  auto db = Connect(dsn);
  ASSERT_TRUE(db);

  auto engine = NewDrizzleEngine(LocalFileSystem(), dir.path());
  RunReport rep = engine->Apply(db.get(), RunContext{});
  ASSERT_FALSE(rep.status.ok());
  EXPECT_EQ(rep.status.code(), Code::kDatabase);
  EXPECT_EQ(rep.status.sqlstate(), "42P01");
  EXPECT_EQ(rep.failed_version, "0006_broken");
  EXPECT_EQ(rep.failed_file, dir.path() + "/0006_broken.sql");
  EXPECT_EQ(rep.failed_statement_index, 2);
  EXPECT_EQ(rep.failed_statement_line, 2);
  EXPECT_NE(rep.status.message().find("no_such_table"), std::string::npos) << rep.status.message();
  EXPECT_EQ(HistoryRows(db.get()), "");
  auto t = db->Query("SELECT to_regclass('public.users') IS NULL");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Get(0, 0), "t") << "the whole batch must be rolled back";

  auto audit = AuditLog(db.get()).List(20);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 7u);
  for (const auto& e : *audit) {
    EXPECT_EQ(e.status, "failed") << e.version;
    if (e.version == "0006_broken") {
      EXPECT_EQ(e.statements_applied, 1);
      EXPECT_NE(e.failing_statement.find("no_such_table"), std::string::npos);
    } else {
      EXPECT_NE(e.error.find("rolled back"), std::string::npos) << e.error;
    }
  }
}

TEST_F(DrizzleKit, HeldLockEndsInLockTimeoutAfterRetriesThenSucceeds) {
  TempDir half;
  CopyFirst(half, 3);
  const std::string dsn = PgServer::Shared().CreateDatabase("dz_lock");
  KitMigrate(dsn, half.path());
  auto db = Connect(dsn);
  auto blocker = Connect(dsn);
  ASSERT_TRUE(db && blocker);
  ASSERT_TRUE(blocker->ExecScript("BEGIN; LOCK TABLE \"users\" IN ACCESS EXCLUSIVE MODE").ok());

  FakeClock clock{Clock::TimePoint{}};
  RunContext ctx;
  ctx.clock = &clock;
  ctx.lock_timeout = std::chrono::milliseconds(50);
  ctx.lock_retries = 2;
  int retries = 0;
  ctx.on_progress = [&](const Progress& p) { retries += p.event == Progress::Event::kRetry; };
  auto engine = NewDrizzleEngine(LocalFileSystem(), AthenaDir());
  RunReport rep = engine->Apply(db.get(), ctx);
  EXPECT_EQ(rep.status.code(), Code::kLockTimeout) << rep.status.ToString();
  EXPECT_EQ(rep.failed_version, "0003_user_profile");
  EXPECT_EQ(retries, 2);
  EXPECT_EQ(clock.Now() - Clock::TimePoint{}, std::chrono::milliseconds(1000 + 2000));
  auto n = db->Query("SELECT count(*) FROM drizzle.__drizzle_migrations");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->Get(0, 0), "3");

  ASSERT_TRUE(blocker->ExecScript("ROLLBACK").ok());
  RunReport ok = engine->Apply(db.get(), ctx);
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  EXPECT_EQ(ok.steps.size(), 3u);
}

TEST_F(DrizzleKit, EditedAppliedFileIsDriftAndApplyRefuses) {
  TempDir dir;
  CopyFirst(dir, 6);
  const std::string dsn = PgServer::Shared().CreateDatabase("dz_drift");
  KitMigrate(dsn, dir.path());
  auto db = Connect(dsn);
  ASSERT_TRUE(db);
  dir.Write("0001_roles.sql", ReadAll(AthenaDir() + "/0001_roles.sql") + "\n-- edited after release\n");

  auto engine = NewDrizzleEngine(LocalFileSystem(), dir.path());
  auto st = engine->Observe(db.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->drift.size(), 1u);
  EXPECT_EQ(st->drift[0].version, "0001_roles");
  EXPECT_TRUE(st->pending.empty());
  RunReport rep = engine->Apply(db.get(), RunContext{});
  EXPECT_EQ(rep.status.code(), Code::kGated);
  EXPECT_NE(rep.status.message().find("0001_roles.sql"), std::string::npos);
}

}  // namespace
}  // namespace su
