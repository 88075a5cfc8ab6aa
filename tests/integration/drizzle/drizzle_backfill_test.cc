// Backfills in a Drizzle Kit folder on a real PostgreSQL (docs/backfill.md): a file with
// `-- schema-upgrade: backfill ...` runs in batches (the sql engine's runner), the files before it
// commit in one transaction before it and the files after it in one after it; its
// __drizzle_migrations row is written when the last batch commits, so the real drizzle-kit finds
// nothing to do afterwards. Killed at random points (crash points inside and right after a batch's
// transaction, SIGKILL at any instant) and run again, every row is updated exactly once: the UPDATE
// is NOT idempotent (n = n + 1), so a batch done twice or skipped shows as a row with n != 1. A bad
// directive is refused before anything runs, naming the file, the line and the field.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "reconcilers/base/sha256.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/engines/drizzle/drizzle_engine.h"
#include "tests/integration/drizzle/drizzle_kit.h"
#include "tests/support/pg_server.h"
#include "tests/support/self_child.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using testing::PgServer;
using testing::TempDir;

constexpr long long kWhen = 1800000000000LL;

class DrizzleBackfill : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::InstallDrizzleKitIfMissing(); }

  void SetUp() override {
    dsn_ = PgServer::Shared().CreateDatabase("dzfill");
    auto db = ConnectPostgres(dsn_, "drizzle-backfill-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }

  // 0000_create: items with `rows` sparse keys (3, 6, 9, ...) and n = 0; 0001_fill: the backfill;
  // 0002_after: a column and an index (must run after the backfill, in one transaction).
  void Folder(int rows, const std::string& knobs, const std::string& update = "n = n + 1") {
    Write("0000_create", "CREATE TABLE \"items\" (\"id\" bigint PRIMARY KEY, \"n\" integer DEFAULT 0 NOT NULL);\n"
                         "--> statement-breakpoint\n"
                         "INSERT INTO \"items\" (\"id\") SELECT g * 3 FROM generate_series(1, " +
                             std::to_string(rows) + ") g;");
    Write("0001_fill", "-- count each row once\n-- schema-upgrade: backfill table=items key=id " + knobs +
                           "\nUPDATE \"items\" SET " + update + " WHERE \"id\" BETWEEN $1 AND $2;\n");
    Write("0002_after", "ALTER TABLE \"items\" ADD COLUMN \"m\" integer;\n--> statement-breakpoint\n"
                        "CREATE INDEX \"items_n\" ON \"items\" (\"n\");");
    Journal({"0000_create", "0001_fill", "0002_after"});
  }
  void Write(const std::string& tag, const std::string& sql) { dir_.Write(tag + ".sql", sql); }
  void Journal(const std::vector<std::string>& tags) {
    std::string j = "{\n  \"version\": \"7\",\n  \"dialect\": \"postgresql\",\n  \"entries\": [";
    for (size_t i = 0; i < tags.size(); ++i) {
      j += std::string(i ? "," : "") + "\n    {\"idx\": " + std::to_string(i) + ", \"version\": \"7\", \"when\": " +
           std::to_string(kWhen + static_cast<long long>(i)) + ", \"tag\": \"" + tags[i] + "\", \"breakpoints\": true}";
    }
    dir_.Write("meta/_journal.json", j + "\n  ]\n}\n");
  }

  RunReport Apply(const RunContext& ctx = RunContext()) {
    auto lock = MigrationLock::Acquire(db_.get(), LockKeyFor("schema-upgrade:" + PgServer::DbNameOf(dsn_)),
                                       std::chrono::seconds(60), RealClock(), std::chrono::milliseconds(10));
    EXPECT_TRUE(lock.ok()) << lock.status().ToString();
    return NewDrizzleEngine(LocalFileSystem(), dir_.path())->Apply(db_.get(), ctx);
  }

  // An apply in a fresh child process (CrashPoint reads SU_CRASH_AT once per process) with
  // SU_CRASH_AT=crash_at (empty: none), optionally SIGKILLed after kill_after_ms. The wait status.
  int ApplyInChild(const std::string& crash_at, int kill_after_ms = -1) {
    std::vector<std::pair<std::string, std::string>> env = {{"SU_DZFILL_CHILD_DSN", dsn_}, {"SU_DZFILL_CHILD_DIR", dir_.path()}};
    if (!crash_at.empty()) env.emplace_back("SU_CRASH_AT", crash_at);
    return su::testing::RunSelfInChild("drizzle_integration_test", "DrizzleBackfillChild.ApplyOnce", env, kill_after_ms);
  }

  std::string Scalar(const std::string& sql) {
    auto r = db_->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    if (!r.ok() || r->rows.empty()) return "<none>";
    return r->Get(0, 0, "<null>");
  }
  std::string HistoryCount() {
    if (Scalar("SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL") != "t") return "0";
    return Scalar("SELECT count(*) FROM drizzle.__drizzle_migrations");
  }
  std::string ProgressRows() {
    if (Scalar("SELECT to_regclass('public.schema_upgrade_backfill') IS NOT NULL") != "t") return "0";
    return Scalar("SELECT count(*) FROM schema_upgrade_backfill");
  }
  // What drizzle-orm writes for the folder: one row per journal entry, its sha256 and `when`.
  std::string ExpectedHistory(const std::vector<std::string>& tags) {
    std::string out;
    for (size_t i = 0; i < tags.size(); ++i) {
      out += std::to_string(i + 1) + "|" + Sha256Hex(ReadFileOrDie(dir_.Path(tags[i] + ".sql"))) + "|" +
             std::to_string(kWhen + static_cast<long long>(i)) + "\n";
    }
    return out;
  }
  static std::string ReadFileOrDie(const std::string& path) {
    auto t = LocalFileSystem()->ReadFile(path);
    EXPECT_TRUE(t.ok()) << path;
    return t.ok() ? *t : "";
  }
  void ExpectFinished(int rows) {
    EXPECT_EQ(Scalar("SELECT count(*) FROM items WHERE n <> 1"), "0");
    EXPECT_EQ(Scalar("SELECT count(*) FROM items WHERE n = 1"), std::to_string(rows));
    EXPECT_EQ(testing::DrizzleHistoryRows(db_.get()), ExpectedHistory({"0000_create", "0001_fill", "0002_after"}));
    EXPECT_EQ(ProgressRows(), "0");
    EXPECT_EQ(Scalar("SELECT to_regclass('public.items_n') IS NOT NULL"), "t");
  }

  std::string dsn_;
  std::unique_ptr<Database> db_;
  TempDir dir_;
};

// The child process of ApplyInChild: one apply under the migration lock, as the CLI does. A no-op
// (skipped) in a normal run.
TEST(DrizzleBackfillChild, ApplyOnce) {
  const char* dsn = std::getenv("SU_DZFILL_CHILD_DSN");
  const char* dir = std::getenv("SU_DZFILL_CHILD_DIR");
  if (!dsn || !dir) GTEST_SKIP() << "only run as the child of DrizzleBackfill";
  auto db = ConnectPostgres(dsn, "drizzle-backfill-child");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto lock = MigrationLock::Acquire(db->get(), LockKeyFor("schema-upgrade:" + PgServer::DbNameOf(dsn)),
                                     std::chrono::seconds(60), RealClock(), std::chrono::milliseconds(10));
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  RunReport r = NewDrizzleEngine(LocalFileSystem(), dir)->Apply(db->get(), RunContext());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
}

TEST_F(DrizzleBackfill, RunsInBatchesBetweenTheOtherFilesAndDrizzleKitAgreesAfterwards) {
  Folder(2500, "batch=300 pause=0");
  auto planned = NewDrizzleEngine(LocalFileSystem(), dir_.path())->Observe(db_.get());
  ASSERT_TRUE(planned.ok()) << planned.status().ToString();
  ASSERT_EQ(planned->notes.size(), 1u);
  EXPECT_EQ(planned->notes[0], "drizzle migration 0001_fill is a backfill of items by id in batches of 300 (adaptive), "
                               "each its own transaction; items does not exist yet (an earlier migration of this plan "
                               "creates it)");
  ASSERT_EQ(planned->backfills.size(), 1u);
  EXPECT_EQ(planned->backfills[0].version, "0001_fill");
  EXPECT_NE(planned->backfills[0].file.find("0001_fill.sql"), std::string::npos) << planned->backfills[0].file;
  EXPECT_EQ(planned->backfills[0].batch, 300);
  EXPECT_FALSE(planned->backfills[0].table_exists);
  EXPECT_EQ(planned->backfills[0].rows_estimate, -1);
  EXPECT_FALSE(planned->backfills[0].interrupted);
  std::vector<Progress> batches;
  RunContext ctx;
  ctx.on_progress = [&](const Progress& p) {
    if (p.event == Progress::Event::kBackfill) batches.push_back(p);
  };
  RunReport r = Apply(ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[1].version, "0001_fill");
  ExpectFinished(2500);
  ASSERT_GE(batches.size(), 3u);  // batches, not one statement
  EXPECT_EQ(batches.back().version, "0001_fill");
  EXPECT_EQ(batches.back().rows_done, 2500);
  EXPECT_EQ(batches.back().last_key, "7500");
  EXPECT_EQ(batches.back().migration_index, 2);
  EXPECT_EQ(batches.back().migrations_total, 3);
  // Three transactions wrote the history: the file before, the backfill's last one, the file after.
  EXPECT_EQ(Scalar("SELECT count(DISTINCT xmin::text) FROM drizzle.__drizzle_migrations"), "3");
  EXPECT_EQ(Scalar("SELECT string_agg(version || ':' || status, ',' ORDER BY id) FROM schema_upgrade_log"),
            "0000_create:succeeded,0001_fill:succeeded,0002_after:succeeded");

  // The real drizzle-kit: nothing pending (it would fail on the backfill's unbound $1 otherwise).
  const std::string rows = testing::DrizzleHistoryRows(db_.get());
  testing::KitMigrate(dsn_, dir_.path());
  EXPECT_EQ(testing::DrizzleHistoryRows(db_.get()), rows);
  EXPECT_EQ(Scalar("SELECT count(*) FROM items WHERE n <> 1"), "0");

  // And we agree: nothing pending, a second apply changes nothing.
  auto st = NewDrizzleEngine(LocalFileSystem(), dir_.path())->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->pending.empty());
  EXPECT_EQ(st->current_version, "0002_after");
  RunReport again = Apply();
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.steps.empty());
  EXPECT_EQ(Scalar("SELECT count(*) FROM items WHERE n <> 1"), "0");
}

TEST_F(DrizzleBackfill, ResumesAfterAKillAtTheLastCommittedKey) {
  Folder(1000, "batch=100 adaptive=false pause=0");
  int st = ApplyInChild("backfill-committed#3");
  ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
  // The file before it is applied; three batches are committed with their progress; nothing else.
  EXPECT_EQ(HistoryCount(), "1");
  EXPECT_EQ(Scalar("SELECT key || ':' || last_key || '/' || rows_done || '/' || batches FROM schema_upgrade_backfill"),
            "0001_fill:900/300/3");
  EXPECT_EQ(Scalar("SELECT count(*) FROM items WHERE n = 1"), "300");
  EXPECT_EQ(Scalar("SELECT max(id) FROM items WHERE n = 1"), "900");
  EXPECT_EQ(Scalar("SELECT to_regclass('public.items_n') IS NULL"), "t");

  // What is pending is the backfill and the file after it.
  auto obs = NewDrizzleEngine(LocalFileSystem(), dir_.path())->Observe(db_.get());
  ASSERT_TRUE(obs.ok()) << obs.status().ToString();
  ASSERT_EQ(obs->pending.size(), 2u);
  EXPECT_EQ(obs->pending[0].version, "0001_fill");
  ASSERT_EQ(obs->notes.size(), 1u);
  EXPECT_EQ(obs->notes[0], "drizzle migration 0001_fill is a backfill of items by id in batches of 100 (fixed), each "
                           "its own transaction; rows unknown (the table was never analyzed); an interrupted run did "
                           "300 rows in 3 batches: it resumes after key 900");
  ASSERT_EQ(obs->backfills.size(), 1u);
  EXPECT_EQ(obs->backfills[0].table, "items");
  EXPECT_EQ(obs->backfills[0].key, "id");
  EXPECT_FALSE(obs->backfills[0].adaptive);
  EXPECT_TRUE(obs->backfills[0].interrupted);
  EXPECT_EQ(obs->backfills[0].rows_done, 300);
  EXPECT_EQ(obs->backfills[0].batches, 3);
  EXPECT_EQ(obs->backfills[0].resume_after, "900");

  long long first_progress_rows = -1;
  RunContext ctx;
  ctx.on_progress = [&](const Progress& p) {
    if (p.event == Progress::Event::kBackfill && first_progress_rows < 0) first_progress_rows = p.rows_done;
  };
  RunReport r = Apply(ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(first_progress_rows, 400);  // the earlier run's 300 rows count
  ExpectFinished(1000);
  testing::KitMigrate(dsn_, dir_.path());
  EXPECT_EQ(testing::DrizzleHistoryRows(db_.get()), ExpectedHistory({"0000_create", "0001_fill", "0002_after"}));
}

// The issue's acceptance test for drizzle: killed at random points, run again until done.
TEST_F(DrizzleBackfill, KilledAtRandomPointsFinishesWithEveryRowUpdatedExactlyOnce) {
  // At most 100 rows a batch: 60 batches at least, and each crash-point run commits at most 6, so
  // the first six runs (crash points only) are kills however fast the machine is; then random
  // instants join in.
  Folder(6000, "batch=100 max-batch=100 pause=0");
  std::mt19937 rng(20261203);
  int kills = 0, runs = 0;
  bool interrupted_midway = false;
  for (; runs < 80; ++runs) {
    int st = 0;
    switch (runs < 6 ? runs % 2 : runs % 3) {
      case 0: st = ApplyInChild("backfill-batch#" + std::to_string(1 + rng() % 6)); break;      // uncommitted batch
      case 1: st = ApplyInChild("backfill-committed#" + std::to_string(1 + rng() % 6)); break;  // right after commit
      default: st = ApplyInChild("", static_cast<int>(rng() % 700)); break;                     // any instant
    }
    if (WIFEXITED(st)) {
      ASSERT_EQ(WEXITSTATUS(st), 0) << "apply failed in run " << runs;
      break;
    }
    ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
    ++kills;
    if (ProgressRows() == "1" && Scalar("SELECT rows_done FROM schema_upgrade_backfill") != "0") interrupted_midway = true;
  }
  ASSERT_LT(runs, 80) << "never finished";
  EXPECT_GE(kills, 5);
  EXPECT_TRUE(interrupted_midway);
  ExpectFinished(6000);
  testing::KitMigrate(dsn_, dir_.path());
  EXPECT_EQ(HistoryCount(), "3");
}

TEST_F(DrizzleBackfill, AFailingBatchKeepsTheFileBeforeAndEarlierBatchesAndSaysItResumes) {
  // Division by zero at id = 750 (the third batch of 100 keys).
  Folder(1000, "batch=100 adaptive=false pause=0", "n = n + 1 / (id - 750)::int * 0 + 1");
  RunReport r = Apply();
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.sqlstate(), "22012") << r.status.ToString();
  EXPECT_EQ(r.failed_version, "0001_fill");
  EXPECT_EQ(r.failed_statement_line, 3);
  const std::string& msg = r.status.message();
  EXPECT_NE(msg.find("drizzle migration 0001_fill (" + dir_.Path("0001_fill.sql") + ") failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("resumes after the last committed key"), std::string::npos) << msg;
  EXPECT_NE(msg.find("The 1 migration(s) before it (up to 0000_create) are applied"), std::string::npos) << msg;
  EXPECT_EQ(HistoryCount(), "1");
  EXPECT_EQ(Scalar("SELECT rows_done FROM schema_upgrade_backfill"), "200");
  EXPECT_EQ(Scalar("SELECT count(*) FROM items WHERE n = 1"), "200");
  EXPECT_EQ(Scalar("SELECT string_agg(version || ':' || status, ',' ORDER BY id) FROM schema_upgrade_log"),
            "0000_create:succeeded,0001_fill:failed");
  // The data is fixed (not the file): the next run resumes and finishes.
  ASSERT_TRUE(db_->ExecScript("DELETE FROM items WHERE id = 750").ok());
  RunReport again = Apply();
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(Scalar("SELECT count(*) FROM items WHERE n <> 1"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM items"), "999");
  EXPECT_EQ(HistoryCount(), "3");
}

// A bad directive (or a backfill file that is not one statement with $1/$2) is refused by Observe
// and Apply before anything runs, with the file, the line and the field.
TEST_F(DrizzleBackfill, ABadBackfillDirectiveIsRefusedBeforeAnythingRuns) {
  struct Case {
    std::string fill;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"-- schema-upgrade: backfill table=items key=id batch=lots\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;",
       "0001_fill.sql:1: backfill directive field 'batch' must be a positive whole number of rows (got 'lots')"},
      {"-- schema-upgrade: backfill table=items batch=10\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;",
       "0001_fill.sql:1: backfill directive field 'key' is missing"},
      {"-- schema-upgrade: backfill table=items key=id batchsize=10\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;",
       "batchsize"},
      {"-- schema-upgrade: table=items key=id\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;",
       "belongs to a backfill"},
      {"-- schema-upgrade: backfill table=items key=id\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;\n"
       "--> statement-breakpoint\nUPDATE items SET n = 2 WHERE id BETWEEN $1 AND $2;",
       "0001_fill.sql:1: a backfill file holds exactly one statement"},
      {"-- schema-upgrade: backfill table=items key=id\nUPDATE items SET n = 1;",
       "0001_fill.sql:2: the backfill statement must use $1"},
  };
  for (const Case& c : cases) {
    Folder(10, "");
    Write("0001_fill", c.fill);
    auto engine = NewDrizzleEngine(LocalFileSystem(), dir_.path());
    auto st = engine->Observe(db_.get());
    ASSERT_FALSE(st.ok()) << c.fill;
    EXPECT_EQ(st.status().code(), Code::kInvalidArgument) << st.status().ToString();
    EXPECT_NE(st.status().message().find(c.expect), std::string::npos) << st.status().message();
    RunReport r = Apply();
    ASSERT_FALSE(r.status.ok()) << c.fill;
    EXPECT_NE(r.status.message().find(c.expect), std::string::npos) << r.status.message();
    EXPECT_EQ(Scalar("SELECT to_regnamespace('drizzle') IS NULL AND to_regclass('public.items') IS NULL"), "t")
        << "nothing may run: " << c.fill;
  }
}

}  // namespace
}  // namespace su
