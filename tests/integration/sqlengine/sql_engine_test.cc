// The sql engine against a real throwaway PostgreSQL: apply/no-op, failure rollback, concurrent
// runs under the migration lock, lock_timeout retries, CONCURRENTLY clean-up, drift, rollback and
// timeouts. Waits are driven by events (progress callbacks, FakeClock), never by wall time.
#include "reconcilers/engines/sql/sql_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "reconcilers/base/sha256.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/database/audit_log.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using su::testing::PgServer;
using su::testing::TempDir;

std::unique_ptr<Database> Connect(const std::string& dsn, const std::string& app = "sqlengine-test") {
  auto db = ConnectPostgres(dsn, app);
  if (!db.ok()) ADD_FAILURE() << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

std::string Version(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "20260101%06d", i);
  return buf;
}

class SqlEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = PgServer::Shared().CreateDatabase("sqlengine");
    db_ = Connect(dsn_);
    ASSERT_NE(db_, nullptr);
  }

  std::unique_ptr<Engine> NewEngine(std::vector<std::string> accept = {}) {
    return NewSqlEngine(LocalFileSystem(), dir_.path(), "public", std::move(accept));
  }

  // Takes the migration lock the way the CLI does, then applies.
  RunReport ApplyLocked(Database* db, const RunContext& ctx, Engine* engine = nullptr) {
    auto lock = MigrationLock::Acquire(db, LockKeyFor("schema-upgrade:" + PgServer::DbNameOf(dsn_)),
                                       std::chrono::seconds(60), RealClock(), std::chrono::milliseconds(10));
    EXPECT_TRUE(lock.ok()) << lock.status().ToString();
    std::unique_ptr<Engine> own;
    if (!engine) {
      own = NewEngine();
      engine = own.get();
    }
    return engine->Apply(db, ctx);
  }
  RunReport Apply(const RunContext& ctx = RunContext()) { return ApplyLocked(db_.get(), ctx); }

  std::string Scalar(const std::string& sql) {
    auto r = db_->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    if (!r.ok() || r->rows.empty()) return "<none>";
    return r->Get(0, 0, "<null>");
  }
  bool TableExists(const std::string& t) { return Scalar("SELECT to_regclass('" + t + "') IS NOT NULL") == "t"; }
  std::vector<std::string> History() {
    std::vector<std::string> out;
    auto r = db_->Query("SELECT version FROM schema_migration ORDER BY version");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(r->Get(i, 0));
    }
    return out;
  }
  std::vector<AuditEntry> Audit() {
    AuditLog log(db_.get());
    auto l = log.List(10000);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? *l : std::vector<AuditEntry>{};
  }

  void Up(const std::string& version, const std::string& name, const std::string& sql) {
    dir_.Write(version + "_" + name + ".up.sql", sql);
  }
  void Down(const std::string& version, const std::string& name, const std::string& sql) {
    dir_.Write(version + "_" + name + ".down.sql", sql);
  }

  std::string dsn_;
  std::unique_ptr<Database> db_;
  TempDir dir_;
};

TEST_F(SqlEngineTest, AppliesTwoHundredMigrationsThenRerunIsNoOp) {
  for (int i = 1; i <= 200; ++i) {
    std::string t = "t" + std::to_string(i);
    Up(Version(i), "create_" + t,
       "CREATE TABLE " + t + " (id int PRIMARY KEY, v text);\nINSERT INTO " + t + " VALUES (1, 'x');\n");
  }
  int done = 0;
  RunContext ctx;
  ctx.on_progress = [&](const Progress& p) {
    if (p.event == Progress::Event::kMigrationDone) ++done;
  };
  RunReport r = Apply(ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.steps.size(), 200u);
  EXPECT_EQ(r.steps[0].version, Version(1));
  EXPECT_EQ(r.steps[199].version, Version(200));
  EXPECT_EQ(r.steps[5].statements, 2);
  EXPECT_EQ(done, 200);
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_migration"), "200");
  EXPECT_EQ(Scalar("SELECT version FROM schema_migration ORDER BY version DESC LIMIT 10"), Version(200));
  EXPECT_EQ(Scalar("SELECT count(*) FROM t200"), "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log WHERE status = 'succeeded' AND direction = 'up'"),
            "200");
  EXPECT_EQ(Scalar("SELECT checksum FROM schema_upgrade_checksum WHERE version = '" + Version(7) + "'"),
            Sha256Hex("CREATE TABLE t7 (id int PRIMARY KEY, v text);\nINSERT INTO t7 VALUES (1, 'x');\n"));

  auto state = NewEngine()->Observe(db_.get());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->applied.size(), 200u);
  EXPECT_TRUE(state->pending.empty());
  EXPECT_TRUE(state->drift.empty());
  EXPECT_EQ(state->current_version, Version(200));
  EXPECT_EQ(state->latest_version, Version(200));
  EXPECT_EQ(state->applied[41].name, "create_t42");

  RunReport again = Apply();
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.steps.empty());
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_migration"), "200");
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log"), "200");
  EXPECT_EQ(Scalar("SELECT count(*) FROM t200"), "1");
}

TEST_F(SqlEngineTest, ObserveOnEmptyDatabaseWritesNothing) {
  Up("1", "a", "CREATE TABLE a(id int);");
  Up("2", "b", "CREATE TABLE b(id int);\nCREATE INDEX b_idx ON b(id);");
  Up("10", "a_idx", "CREATE INDEX a_idx ON a(id);");
  auto state = NewEngine()->Observe(db_.get());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  ASSERT_EQ(state->pending.size(), 3u);
  EXPECT_EQ(state->pending[1].summary.size(), 2u);
  EXPECT_EQ(state->pending[1].summary[1], "CREATE INDEX b_idx ON b(id)");
  EXPECT_EQ(state->pending[2].version, "10");
  EXPECT_EQ(state->pending[2].file, dir_.Path("10_a_idx.up.sql"));
  EXPECT_EQ(state->pending[2].checksum, Sha256Hex("CREATE INDEX a_idx ON a(id);"));
  EXPECT_FALSE(state->pending[2].has_down);
  // The plan carries lint findings for pending files (an index build that blocks writes).
  bool flagged = false;
  for (const auto& f : state->pending[2].findings) {
    flagged |= f.rule == "create-index-without-concurrently" && f.file == dir_.Path("10_a_idx.up.sql");
  }
  EXPECT_TRUE(flagged);
  EXPECT_TRUE(state->current_version.empty());
  EXPECT_EQ(state->latest_version, "10");
  EXPECT_FALSE(TableExists("schema_migration"));
  EXPECT_FALSE(TableExists("schema_upgrade_log"));
}

TEST_F(SqlEngineTest, FailingMigrationStopsAndIsRolledBackCompletely) {
  Up("1", "one", "CREATE TABLE one(id int);");
  Up("2", "two", "CREATE TABLE two(id int);");
  Up("3", "three", "CREATE TABLE three(id int);\nINSERT INTO three VALUES (1);\nINSERT INTO nope VALUES (1);\n");
  Up("4", "four", "CREATE TABLE four(id int);");
  int session_pid = 0;
  RunContext ctx;
  ctx.on_session = [&](int pid) { session_pid = pid; };
  RunReport r = Apply(ctx);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.code(), Code::kDatabase);
  EXPECT_EQ(r.status.sqlstate(), "42P01");
  EXPECT_EQ(session_pid, db_->BackendPid());
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.failed_version, "3");
  EXPECT_EQ(r.failed_file, dir_.Path("3_three.up.sql"));
  EXPECT_EQ(r.failed_statement_index, 3);
  EXPECT_EQ(r.failed_statement_line, 3);
  EXPECT_EQ(r.failed_statement, "INSERT INTO nope VALUES (1)");
  const std::string& m = r.status.message();
  EXPECT_NE(m.find("3_three.up.sql"), std::string::npos) << m;
  EXPECT_NE(m.find("statement 3 of 3"), std::string::npos) << m;
  EXPECT_NE(m.find("line 3"), std::string::npos) << m;
  EXPECT_NE(m.find("rolled back"), std::string::npos) << m;
  EXPECT_NE(m.find("run again"), std::string::npos) << m;

  EXPECT_TRUE(TableExists("one"));
  EXPECT_TRUE(TableExists("two"));
  EXPECT_FALSE(TableExists("three"));
  EXPECT_FALSE(TableExists("four"));
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2"}));
  auto audit = Audit();
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].version, "3");
  EXPECT_EQ(audit[0].status, "failed");
  EXPECT_EQ(audit[0].statements_total, 3);
  EXPECT_EQ(audit[0].statements_applied, 0);
  EXPECT_NE(audit[0].failing_statement.find("INSERT INTO nope"), std::string::npos) << audit[0].failing_statement;
  EXPECT_NE(audit[0].failing_statement.find("statement 3"), std::string::npos) << audit[0].failing_statement;
  EXPECT_NE(audit[0].error.find("nope"), std::string::npos) << audit[0].error;
  EXPECT_EQ(audit[1].status, "succeeded");

  // The next run picks up where it stopped once the file is fixed.
  Up("3", "three", "CREATE TABLE three(id int);\nINSERT INTO three VALUES (1);\n");
  RunReport fixed = Apply();
  ASSERT_TRUE(fixed.status.ok()) << fixed.status.ToString();
  ASSERT_EQ(fixed.steps.size(), 2u);
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2", "3", "4"}));
}

TEST_F(SqlEngineTest, ConcurrentAppliesNeverDoubleApply) {
  const int n = 40;
  for (int i = 1; i <= n; ++i) {
    Up(Version(i), "m" + std::to_string(i), "CREATE TABLE c" + std::to_string(i) + " (id int);");
  }
  auto a = Connect(dsn_, "apply-a"), b = Connect(dsn_, "apply-b");
  RunReport ra, rb;
  std::thread ta([&] { ra = ApplyLocked(a.get(), RunContext()); });
  std::thread tb([&] { rb = ApplyLocked(b.get(), RunContext()); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.status.ok()) << ra.status.ToString();
  ASSERT_TRUE(rb.status.ok()) << rb.status.ToString();
  EXPECT_EQ(ra.steps.size() + rb.steps.size(), static_cast<size_t>(n));
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_migration"), std::to_string(n));
  EXPECT_EQ(Scalar("SELECT count(DISTINCT version) FROM schema_upgrade_log WHERE status = 'succeeded'"),
            std::to_string(n));
  EXPECT_EQ(Scalar("SELECT count(*) FROM (SELECT version FROM schema_upgrade_log WHERE status = 'succeeded' "
                   "GROUP BY version HAVING count(*) <> 1) x"),
            "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log WHERE status <> 'succeeded'"), "0");
}

TEST_F(SqlEngineTest, LockTimeoutIsRetriedWithBackoffUntilTheBlockerCommits) {
  Up("1", "create", "CREATE TABLE t(x int);");
  ASSERT_TRUE(Apply().status.ok());
  Up("2", "alter", "ALTER TABLE t ADD COLUMN y int;");

  auto blocker = Connect(dsn_, "blocker");
  ASSERT_TRUE(blocker->Exec("BEGIN").ok());
  ASSERT_TRUE(blocker->Exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE").ok());

  FakeClock clock(Clock::TimePoint{});
  RunContext ctx;
  ctx.clock = &clock;
  ctx.lock_timeout = std::chrono::milliseconds(50);
  ctx.lock_retries = 5;
  ctx.lock_retry_initial = std::chrono::milliseconds(1000);
  ctx.lock_retry_max = std::chrono::milliseconds(60000);
  std::vector<std::string> retry_messages;
  ctx.on_progress = [&](const Progress& p) {
    if (p.event != Progress::Event::kRetry) return;
    retry_messages.push_back(p.message);
    // The other session finishes its work during the second back-off.
    if (retry_messages.size() == 2) {
      EXPECT_TRUE(blocker->Exec("COMMIT").ok());
    }
  };
  RunReport r = Apply(ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.steps.size(), 1u);
  ASSERT_EQ(retry_messages.size(), 2u);
  EXPECT_NE(retry_messages[0].find("lock_timeout"), std::string::npos) << retry_messages[0];
  // Backed off 1 s, then 2 s, on the injected clock.
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now() - Clock::TimePoint{}).count(), 3000);
  EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'y'"),
            "1");
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(Scalar("SELECT string_agg(status, ',') FROM schema_upgrade_log WHERE version = '2'"), "succeeded");
}

TEST_F(SqlEngineTest, LockTimeoutGivesUpAfterRetriesAndChangesNothing) {
  Up("1", "create", "CREATE TABLE t(x int);");
  ASSERT_TRUE(Apply().status.ok());
  Up("2", "alter", "CREATE TABLE side(id int);\nALTER TABLE t ADD COLUMN y int;");
  auto blocker = Connect(dsn_, "blocker");
  ASSERT_TRUE(blocker->Exec("BEGIN").ok());
  ASSERT_TRUE(blocker->Exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE").ok());

  FakeClock clock(Clock::TimePoint{});
  RunContext ctx;
  ctx.clock = &clock;
  ctx.lock_timeout = std::chrono::milliseconds(20);
  ctx.lock_retries = 3;
  ctx.lock_retry_initial = std::chrono::milliseconds(1000);
  ctx.lock_retry_max = std::chrono::milliseconds(1500);
  int retries = 0;
  ctx.on_progress = [&](const Progress& p) { retries += p.event == Progress::Event::kRetry; };
  RunReport r = Apply(ctx);
  ASSERT_EQ(r.status.code(), Code::kLockTimeout) << r.status.ToString();
  EXPECT_EQ(r.status.sqlstate(), "55P03");
  EXPECT_EQ(retries, 3);
  EXPECT_EQ(r.failed_statement_index, 2);
  EXPECT_EQ(r.failed_statement_line, 2);
  EXPECT_NE(r.status.message().find("pg_stat_activity"), std::string::npos) << r.status.message();
  // 1 s, then 1.5 s twice (capped at lock_retry_max).
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now() - Clock::TimePoint{}).count(), 4000);
  EXPECT_TRUE(blocker->Exec("COMMIT").ok());
  EXPECT_FALSE(TableExists("side"));
  EXPECT_EQ(History(), (std::vector<std::string>{"1"}));
}

TEST_F(SqlEngineTest, NoTransactionFileResumesAtTheStatementThatHitTheLockTimeout) {
  Up("1", "create", "CREATE TABLE t(x int);");
  ASSERT_TRUE(Apply().status.ok());
  // Not idempotent on purpose: re-running statement 1 after the retry would fail.
  Up("2", "alter", "-- schema-upgrade: no-transaction\nCREATE TABLE side(id int);\nALTER TABLE t ADD COLUMN y int;");
  auto blocker = Connect(dsn_, "blocker");
  ASSERT_TRUE(blocker->Exec("BEGIN").ok());
  ASSERT_TRUE(blocker->Exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE").ok());
  FakeClock clock(Clock::TimePoint{});
  RunContext ctx;
  ctx.clock = &clock;
  ctx.lock_timeout = std::chrono::milliseconds(30);
  int retries = 0;
  std::vector<int> statements_run;
  ctx.on_progress = [&](const Progress& p) {
    if (p.event == Progress::Event::kStatement) statements_run.push_back(p.statement_index);
    if (p.event == Progress::Event::kRetry && ++retries == 1) {
      EXPECT_TRUE(blocker->Exec("COMMIT").ok());
    }
  };
  RunReport r = Apply(ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(retries, 1);
  EXPECT_EQ(statements_run, (std::vector<int>{1, 2, 2}));
  EXPECT_TRUE(TableExists("side"));
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(Scalar("SHOW lock_timeout"), "0");
}

TEST_F(SqlEngineTest, ConcurrentIndexFailureLeavesInvalidIndexThatNextApplyDrops) {
  Up("1", "users", "CREATE TABLE users(email text);\nINSERT INTO users VALUES ('a@x'), ('a@x'), ('b@x');");
  Up("2", "users_email",
     "-- schema-upgrade: no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users "
     "(email);\n");
  RunReport r = Apply();
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.sqlstate(), "23505") << r.status.ToString();
  EXPECT_EQ(r.failed_version, "2");
  EXPECT_NE(r.status.message().find("without a transaction"), std::string::npos) << r.status.message();
  EXPECT_EQ(Scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass"), "f");
  EXPECT_EQ(History(), (std::vector<std::string>{"1"}));
  // The session's timeouts are back to the defaults after a no-transaction file.
  EXPECT_EQ(Scalar("SHOW lock_timeout"), "0");
  EXPECT_EQ(Scalar("SHOW statement_timeout"), "0");

  auto state = NewEngine()->Observe(db_.get());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  ASSERT_EQ(state->pending.size(), 1u);
  EXPECT_TRUE(state->pending[0].no_transaction);
  bool noted = false;
  for (const auto& n : state->notes) noted |= n.find("invalid index users_email_idx") != std::string::npos;
  EXPECT_TRUE(noted) << ::testing::PrintToString(state->notes);

  ASSERT_TRUE(db_->Exec("DELETE FROM users WHERE ctid IN (SELECT max(ctid) FROM users GROUP BY email HAVING "
                        "count(*) > 1)")
                  .ok());
  RunReport fixed = Apply();
  ASSERT_TRUE(fixed.status.ok()) << fixed.status.ToString();
  EXPECT_EQ(Scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass"), "t");
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2"}));
  auto audit = Audit();
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit[0].version, "2");
  EXPECT_EQ(audit[0].status, "succeeded");
  EXPECT_NE(audit[0].detail.find("dropped invalid index users_email_idx"), std::string::npos) << audit[0].detail;
}

TEST_F(SqlEngineTest, DriftIsReportedRefusedThenAccepted) {
  Up("1", "a", "CREATE TABLE a(id int);");
  Up("2", "b", "CREATE TABLE b(id int);");
  ASSERT_TRUE(Apply().status.ok());
  Up("1", "a", "CREATE TABLE a(id bigint);");
  Up("3", "c", "CREATE TABLE c(id int);");

  auto state = NewEngine()->Observe(db_.get());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  ASSERT_EQ(state->drift.size(), 1u);
  EXPECT_EQ(state->drift[0].version, "1");
  EXPECT_FALSE(state->drift[0].accepted);
  EXPECT_EQ(state->drift[0].recorded_checksum, Sha256Hex("CREATE TABLE a(id int);"));
  EXPECT_EQ(state->drift[0].file_checksum, Sha256Hex("CREATE TABLE a(id bigint);"));
  auto accepted_state = NewEngine({"1"})->Observe(db_.get());
  ASSERT_TRUE(accepted_state.ok());
  ASSERT_EQ(accepted_state->drift.size(), 1u);
  EXPECT_TRUE(accepted_state->drift[0].accepted);

  RunReport refused = Apply();
  ASSERT_EQ(refused.status.code(), Code::kGated) << refused.status.ToString();
  EXPECT_NE(refused.status.message().find("1_a"), std::string::npos) << refused.status.message();
  EXPECT_NE(refused.status.message().find("acceptDrift"), std::string::npos) << refused.status.message();
  EXPECT_TRUE(refused.steps.empty());
  EXPECT_FALSE(TableExists("c"));
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2"}));

  RunContext ctx;
  ctx.accept_drift = {"1"};
  RunReport ok = Apply(ctx);
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  ASSERT_EQ(ok.steps.size(), 1u);
  EXPECT_EQ(ok.steps[0].version, "3");
  EXPECT_EQ(Scalar("SELECT checksum FROM schema_upgrade_checksum WHERE version = '1'"),
            Sha256Hex("CREATE TABLE a(id bigint);"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log WHERE direction = 'drift-accepted' AND version = '1'"),
            "1");
  auto after = NewEngine()->Observe(db_.get());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->drift.empty());
  EXPECT_TRUE(Apply().status.ok());
}

TEST_F(SqlEngineTest, VersionsWithoutFilesAreUnknownNotErrors) {
  Up("1", "a", "CREATE TABLE a(id int);");
  Up("2", "b", "CREATE TABLE b(id int);");
  ASSERT_TRUE(Apply().status.ok());
  ASSERT_EQ(std::remove(dir_.Path("2_b.up.sql").c_str()), 0);
  Up("3", "c", "CREATE TABLE c(id int);");
  auto state = NewEngine()->Observe(db_.get());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->unknown, (std::vector<std::string>{"2"}));
  ASSERT_EQ(state->pending.size(), 1u);
  RunReport r = Apply();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2", "3"}));
}

TEST_F(SqlEngineTest, RollbackRunsDownFilesNewestFirst) {
  for (int i = 1; i <= 4; ++i) {
    std::string t = "r" + std::to_string(i);
    Up(std::to_string(i), t, "CREATE TABLE " + t + "(id int);");
    Down(std::to_string(i), t, "DROP TABLE " + t + ";");
  }
  ASSERT_TRUE(Apply().status.ok());
  std::vector<std::string> order;
  RunContext ctx;
  ctx.on_progress = [&](const Progress& p) {
    if (p.event == Progress::Event::kMigrationStart) order.push_back(p.version);
  };
  RunReport r = NewEngine()->Rollback(db_.get(), "2", ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(order, (std::vector<std::string>{"4", "3"}));
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].version, "4");
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2"}));
  EXPECT_FALSE(TableExists("r4"));
  EXPECT_FALSE(TableExists("r3"));
  EXPECT_TRUE(TableExists("r2"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_checksum"), "2");
  EXPECT_EQ(Scalar("SELECT string_agg(version, ',' ORDER BY id) FROM schema_upgrade_log WHERE direction = 'down' "
                   "AND status = 'succeeded'"),
            "4,3");
  // Up again re-applies exactly what was rolled back.
  RunReport up = Apply();
  ASSERT_TRUE(up.status.ok()) << up.status.ToString();
  EXPECT_EQ(up.steps.size(), 2u);
}

TEST_F(SqlEngineTest, RollbackWithAMissingDownFileChangesNothing) {
  Up("1", "a", "CREATE TABLE a(id int);");
  Down("1", "a", "DROP TABLE a;");
  Up("2", "b", "CREATE TABLE b(id int);");
  Up("3", "c", "CREATE TABLE c(id int);");
  Down("3", "c", "DROP TABLE c;");
  ASSERT_TRUE(Apply().status.ok());
  auto log_rows = Scalar("SELECT count(*) FROM schema_upgrade_log");
  RunReport r = NewEngine()->Rollback(db_.get(), "0", RunContext());
  ASSERT_EQ(r.status.code(), Code::kInvalidArgument) << r.status.ToString();
  EXPECT_NE(r.status.message().find("2_b"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("Nothing was changed"), std::string::npos) << r.status.message();
  EXPECT_TRUE(r.steps.empty());
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_TRUE(TableExists("c"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log"), log_rows);

  EXPECT_EQ(NewEngine()->Rollback(db_.get(), "latest", RunContext()).status.code(), Code::kInvalidArgument);
}

TEST_F(SqlEngineTest, TimeoutsComeFromTheRunContext) {
  Up("1", "settings",
     "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st;");
  Up("2", "settings_no_tx",
     "-- schema-upgrade: no-transaction\nCREATE TABLE seen2 AS SELECT current_setting('lock_timeout') AS lt, "
     "current_setting('statement_timeout') AS st;");
  RunContext ctx;
  ctx.lock_timeout = std::chrono::milliseconds(1234);
  ctx.statement_timeout = std::chrono::milliseconds(56789);
  RunReport r = Apply(ctx);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Scalar("SELECT lt || ' ' || st FROM seen"), "1234ms 56789ms");
  EXPECT_EQ(Scalar("SELECT lt || ' ' || st FROM seen2"), "1234ms 56789ms");
  EXPECT_EQ(Scalar("SHOW lock_timeout"), "0");

  Up("3", "slow", "CREATE TABLE before_sleep(id int);\nSELECT pg_sleep(30);");
  ctx.statement_timeout = std::chrono::milliseconds(100);
  RunReport slow = Apply(ctx);
  ASSERT_EQ(slow.status.code(), Code::kCancelled) << slow.status.ToString();
  EXPECT_EQ(slow.status.sqlstate(), "57014");
  EXPECT_EQ(slow.failed_statement_index, 2);
  EXPECT_NE(slow.status.message().find("statementTimeout"), std::string::npos) << slow.status.message();
  EXPECT_FALSE(TableExists("before_sleep"));
  EXPECT_EQ(History(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(Scalar("SELECT status FROM schema_upgrade_log WHERE version = '3'"), "failed");
}

TEST_F(SqlEngineTest, CancelFromAWatcherStopsTheRunningStatement) {
  Up("1", "slow", "CREATE TABLE before_sleep(id int);\nSELECT pg_sleep(60);");
  RunContext ctx;
  std::thread watcher;
  ctx.on_progress = [&](const Progress& p) {
    if (p.event != Progress::Event::kStatement || p.statement_index != 2) return;
    // Cancel once the server shows this session inside pg_sleep (no wall-clock guess).
    watcher = std::thread([this] {
      auto probe = Connect(dsn_, "watcher");
      for (int i = 0; i < 6000; ++i) {
        auto r = probe->Query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sqlengine-test' AND "
                              "query LIKE 'SELECT pg_sleep%' AND state = 'active'");
        if (r.ok() && r->Get(0, 0) == "1") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      EXPECT_TRUE(db_->Cancel().ok());
    });
  };
  RunReport r = Apply(ctx);
  watcher.join();
  ASSERT_EQ(r.status.code(), Code::kCancelled) << r.status.ToString();
  EXPECT_NE(r.status.message().find("stopped on request"), std::string::npos) << r.status.message();
  EXPECT_FALSE(TableExists("before_sleep"));
  EXPECT_EQ(Scalar("SELECT status FROM schema_upgrade_log WHERE version = '1'"), "interrupted");
}

TEST_F(SqlEngineTest, CancelStopsBetweenStatementsAndRollsBack) {
  Up("1", "a", "CREATE TABLE a(id int);\nCREATE TABLE a2(id int);");
  RunContext ctx;
  int statements = 0;
  ctx.on_progress = [&](const Progress& p) { statements += p.event == Progress::Event::kStatement; };
  ctx.cancelled = [&] { return statements >= 1; };
  RunReport r = Apply(ctx);
  ASSERT_EQ(r.status.code(), Code::kCancelled) << r.status.ToString();
  EXPECT_EQ(r.failed_statement_index, 2);
  EXPECT_FALSE(TableExists("a"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_migration"), "0");
  EXPECT_EQ(Scalar("SELECT status FROM schema_upgrade_log"), "interrupted");
}

TEST_F(SqlEngineTest, TransactionControlInATransactionalFileIsRejectedBeforeRunning) {
  Up("1", "a", "CREATE TABLE a(id int);");
  Up("2", "b", "BEGIN;\nCREATE TABLE b(id int);\nCOMMIT;");
  RunReport r = Apply();
  ASSERT_EQ(r.status.code(), Code::kInvalidArgument) << r.status.ToString();
  EXPECT_NE(r.status.message().find("2_b.up.sql:1"), std::string::npos) << r.status.message();
  EXPECT_FALSE(TableExists("a"));
}

TEST_F(SqlEngineTest, HistoryLivesInTheConfiguredSchema) {
  Up("1", "a", "CREATE TABLE a(id int);");
  auto engine = NewSqlEngine(LocalFileSystem(), dir_.path(), "My Schema");
  RunReport r = ApplyLocked(db_.get(), RunContext(), engine.get());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Scalar("SELECT count(*) FROM \"My Schema\".schema_migration"), "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM \"My Schema\".schema_upgrade_log"), "1");
  EXPECT_EQ(Scalar("SELECT indexdef LIKE '%UNIQUE%' FROM pg_indexes WHERE indexname = 'schema_migration_version_idx'"),
            "t");
  EXPECT_TRUE(engine->Apply(db_.get(), RunContext()).steps.empty());
}

}  // namespace
}  // namespace su
