// Unit tests of the drizzle engine: journal parsing and its errors, Node's UTF-8 round trip,
// statement splitting with lines, folder loading, drizzle-orm's pending rule, drift, and Apply
// against a fake Database (one transaction, rollback on failure, lock-timeout retries).
#include <gtest/gtest.h>

#include <map>

#include "reconcilers/base/sha256.h"
#include "reconcilers/engines/drizzle/drizzle_engine.h"
#include "reconcilers/engines/drizzle/drizzle_folder.h"
#include "reconcilers/engines/drizzle/drizzle_plan.h"
#include "reconcilers/engines/drizzle/journal.h"
#include "reconcilers/engines/drizzle/node_utf8.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using testing::TempDir;

std::string Journal(const std::string& entries) {
  return R"({"version":"7","dialect":"postgresql","entries":[)" + entries + "]}";
}
std::string Entry(int idx, long long when, const std::string& tag) {
  return R"({"idx":)" + std::to_string(idx) + R"(,"version":"7","when":)" + std::to_string(when) +
         R"(,"tag":")" + tag + R"(","breakpoints":true})";
}

// ---- journal ----

TEST(DrizzleJournal, ParsesEntriesInOrder) {
  auto j = ParseDrizzleJournal("m/meta/_journal.json",
                               Journal(Entry(0, 1700000000000, "0000_init") + "," + Entry(1, 1700000000500, "0001_b")));
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->dialect, "postgresql");
  ASSERT_EQ(j->entries.size(), 2u);
  EXPECT_EQ(j->entries[0].tag, "0000_init");
  EXPECT_EQ(j->entries[0].when, 1700000000000LL);
  EXPECT_EQ(j->entries[1].idx, 1);
  EXPECT_TRUE(j->entries[1].breakpoints);
  EXPECT_EQ(j->entries[1].version, "7");
}

TEST(DrizzleJournal, OptionalFieldsMayBeAbsent) {
  auto j = ParseDrizzleJournal("j", R"({"entries":[{"when":5,"tag":"x"}]})");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->entries[0].idx, -1);
  EXPECT_TRUE(j->entries[0].breakpoints);
}

void ExpectInvalid(const std::string& text, const std::vector<std::string>& parts) {
  auto j = ParseDrizzleJournal("mig/meta/_journal.json", text);
  ASSERT_FALSE(j.ok()) << text;
  EXPECT_EQ(j.status().code(), Code::kInvalidArgument);
  EXPECT_NE(j.status().message().find("mig/meta/_journal.json"), std::string::npos) << j.status().message();
  for (const auto& p : parts) EXPECT_NE(j.status().message().find(p), std::string::npos) << j.status().message();
}

TEST(DrizzleJournal, ErrorsNameTheFileAndEntry) {
  ExpectInvalid("{\"entries\": [", {"not valid JSON"});
  ExpectInvalid("[]", {"expected a JSON object"});
  ExpectInvalid("{}", {"missing \"entries\""});
  ExpectInvalid(R"({"entries":{}})", {"\"entries\" must be an array"});
  ExpectInvalid(Journal(Entry(0, 1, "a") + R"(,{"when":2})"), {"entry 1", "missing \"tag\""});
  ExpectInvalid(Journal(R"({"tag":"0000_x"})"), {"entry 0 (tag \"0000_x\")", "missing \"when\""});
  ExpectInvalid(Journal(R"({"tag":"0000_x","when":"1700"})"), {"entry 0", "\"when\" must be an integer", "a string"});
  ExpectInvalid(Journal(R"({"tag":"0000_x","when":1.5})"), {"non-integer"});
  ExpectInvalid(Journal(R"({"tag":"","when":1})"), {"\"tag\" is empty"});
  ExpectInvalid(Journal(R"({"tag":"../../etc/passwd","when":1})"), {"inside the migrations folder"});
  ExpectInvalid(Journal(R"({"tag":"a","when":1,"breakpoints":"yes"})"), {"\"breakpoints\" must be true or false"});
  ExpectInvalid(Journal(Entry(0, 1, "a") + "," + Entry(1, 2, "a")), {"entry 1 (tag \"a\")", "same tag"});
  ExpectInvalid(R"({"dialect":"mysql","entries":[]})", {"mysql", "PostgreSQL"});
}

// ---- Node UTF-8 round trip (expected values printed by node's Buffer.toString) ----

TEST(NodeUtf8, ValidTextIsUnchanged) {
  std::string s = "CREATE TABLE \"café\" (id int); -- \xF0\x9F\x98\x80\n";
  EXPECT_EQ(NodeUtf8RoundTrip(s), s);
}

TEST(NodeUtf8, IllFormedSequencesBecomeReplacementCharsLikeNode) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(NodeUtf8RoundTrip("\xC3\x28"), r + "(");
  EXPECT_EQ(NodeUtf8RoundTrip("\xED\xA0\x80"), r + r + r);
  EXPECT_EQ(NodeUtf8RoundTrip("\xF0\x90\x80"), r);
  EXPECT_EQ(NodeUtf8RoundTrip("\xE0\x80\xAF"), r + r + r);
  EXPECT_EQ(NodeUtf8RoundTrip("\xF4\x90\x80\x80"), r + r + r + r);
  EXPECT_EQ(NodeUtf8RoundTrip("a\x80" "b"), "a" + r + "b");
  EXPECT_EQ(NodeUtf8RoundTrip("\xE2\x82"), r);
}

// ---- statements ----

TEST(DrizzleStatements, SplitsLikeDrizzleAndKeepsLines) {
  std::string sql =
      "CREATE TABLE \"a\" (\n\t\"id\" serial\n);\n--> statement-breakpoint\n"
      "-- a comment\nCREATE INDEX \"i\" ON \"a\" (\"id\");--> statement-breakpoint\n"
      "\n  \n--> statement-breakpoint\nALTER TABLE \"a\" ADD COLUMN \"b\" text;";
  auto st = SplitDrizzleStatements(sql);
  ASSERT_EQ(st.size(), 3u);  // the whitespace-only part is not sent
  EXPECT_EQ(st[0].text, "CREATE TABLE \"a\" (\n\t\"id\" serial\n);\n");
  EXPECT_EQ(st[0].line, 1);
  EXPECT_EQ(st[1].text, "\n-- a comment\nCREATE INDEX \"i\" ON \"a\" (\"id\");");
  EXPECT_EQ(st[1].line, 6);
  EXPECT_EQ(st[2].index, 3);
  EXPECT_EQ(st[2].line, 10);
  EXPECT_EQ(st[2].text, "\nALTER TABLE \"a\" ADD COLUMN \"b\" text;");
}

TEST(DrizzleStatements, FileWithoutBreakpointsIsOneStatement) {
  auto st = SplitDrizzleStatements("CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n");
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].line, 1);
}

// ---- folder ----

struct Folder {
  TempDir dir;
  std::map<std::string, std::string> files;
  void Add(int idx, long long when, const std::string& tag, const std::string& sql) {
    entries.push_back(Entry(idx, when, tag));
    dir.Write(tag + ".sql", sql);
    WriteJournal();
  }
  void WriteJournal() {
    std::string all;
    for (size_t i = 0; i < entries.size(); ++i) all += (i ? "," : "") + entries[i];
    dir.Write("meta/_journal.json", Journal(all));
  }
  std::vector<std::string> entries;
};

TEST(DrizzleFolder, LoadsFilesAndHashesTheirBytes) {
  Folder f;
  std::string sql = "CREATE TABLE \"t\" (\"id\" int);\n--> statement-breakpoint\nCREATE INDEX \"x\" ON \"t\" (\"id\");";
  f.Add(0, 1000, "0000_first_table", sql);
  auto loaded = LoadDrizzleFolder(LocalFileSystem(), f.dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->migrations.size(), 1u);
  const auto& m = loaded->migrations[0];
  EXPECT_EQ(m.hash, Sha256Hex(sql));
  EXPECT_EQ(m.file, f.dir.path() + "/0000_first_table.sql");
  EXPECT_EQ(m.Name(), "first_table");
  EXPECT_EQ(m.statements.size(), 2u);
}

TEST(DrizzleFolder, MissingSqlFileNamesFileAndEntry) {
  Folder f;
  f.Add(0, 1000, "0000_a", "SELECT 1;");
  f.entries.push_back(Entry(1, 2000, "0001_gone"));
  f.WriteJournal();
  auto loaded = LoadDrizzleFolder(LocalFileSystem(), f.dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  const std::string& msg = loaded.status().message();
  EXPECT_NE(msg.find("0001_gone.sql"), std::string::npos) << msg;
  EXPECT_NE(msg.find("entry 1"), std::string::npos) << msg;
}

TEST(DrizzleFolder, MissingJournalIsExplained) {
  TempDir d;
  auto loaded = LoadDrizzleFolder(LocalFileSystem(), d.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("meta/_journal.json"), std::string::npos);
}

// ---- pending rule (pure) ----

DrizzleFolder MakeFolder(const std::vector<std::pair<long long, std::string>>& entries) {
  DrizzleFolder f;
  int i = 0;
  for (const auto& [when, tag] : entries) {
    DrizzleMigration m;
    m.entry.when = when;
    m.entry.tag = tag;
    m.position = i++;
    m.file = "f/" + tag + ".sql";
    m.content = "SELECT '" + tag + "'";
    m.hash = Sha256Hex(m.content);
    m.statements = SplitDrizzleStatements(m.content);
    f.migrations.push_back(m);
  }
  return f;
}

DrizzleHistoryRow Row(long long id, const DrizzleMigration& m) { return {id, m.hash, m.entry.when}; }

TEST(DrizzlePlan, EmptyHistoryMakesEverythingPending) {
  auto f = MakeFolder({{100, "0000_a"}, {200, "0001_b"}});
  auto p = PlanDrizzle(f, {}, {});
  EXPECT_EQ(p.pending, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(p.state.pending[1].version, "0001_b");
  EXPECT_EQ(p.state.pending[1].name, "b");
  EXPECT_EQ(p.state.pending[1].checksum, f.migrations[1].hash);
  EXPECT_EQ(p.state.current_version, "");
  EXPECT_EQ(p.state.latest_version, "0001_b");
}

TEST(DrizzlePlan, PendingIsEntriesLaterThanTheNewestRow) {
  auto f = MakeFolder({{100, "0000_a"}, {200, "0001_b"}, {300, "0002_c"}, {400, "0003_d"}});
  auto p = PlanDrizzle(f, {Row(1, f.migrations[0]), Row(2, f.migrations[1])}, {});
  EXPECT_EQ(p.pending, (std::vector<size_t>{2, 3}));
  ASSERT_EQ(p.state.applied.size(), 2u);
  EXPECT_EQ(p.state.applied[0].version, "0000_a");
  EXPECT_EQ(p.state.current_version, "0001_b");
  EXPECT_TRUE(p.state.drift.empty());
  EXPECT_TRUE(p.state.unknown.empty());
}

TEST(DrizzlePlan, EntryOlderThanNewestRowIsNeverPendingAndIsReported) {
  // A merged branch's migration generated earlier: drizzle-orm skips it for good.
  auto f = MakeFolder({{100, "0000_a"}, {150, "0001_branch"}, {200, "0002_c"}});
  auto p = PlanDrizzle(f, {Row(1, f.migrations[0]), Row(2, f.migrations[2])}, {});
  EXPECT_TRUE(p.pending.empty());
  ASSERT_EQ(p.state.notes.size(), 1u);
  EXPECT_NE(p.state.notes[0].find("0001_branch.sql"), std::string::npos);
  EXPECT_NE(p.state.notes[0].find("never apply"), std::string::npos);
}

TEST(DrizzlePlan, NullCreatedAtMakesAllPendingLikeDrizzle) {
  auto f = MakeFolder({{100, "0000_a"}, {200, "0001_b"}});
  auto p = PlanDrizzle(f, {Row(1, f.migrations[0]), {2, "x", std::nullopt}}, {});
  EXPECT_EQ(p.pending, (std::vector<size_t>{0, 1}));
  EXPECT_FALSE(p.state.notes.empty());
}

TEST(DrizzlePlan, ChangedFileIsDriftAndCanBeAccepted) {
  auto f = MakeFolder({{100, "0000_a"}, {200, "0001_b"}});
  DrizzleHistoryRow edited{1, std::string(64, '0'), 100};
  auto p = PlanDrizzle(f, {edited}, {});
  ASSERT_EQ(p.state.drift.size(), 1u);
  EXPECT_EQ(p.state.drift[0].version, "0000_a");
  EXPECT_EQ(p.state.drift[0].recorded_checksum, std::string(64, '0'));
  EXPECT_EQ(p.state.drift[0].file_checksum, f.migrations[0].hash);
  EXPECT_FALSE(p.state.drift[0].accepted);
  EXPECT_EQ(UnacceptedDrift(p.state).size(), 1u);
  EXPECT_EQ(p.pending, (std::vector<size_t>{1}));

  EXPECT_TRUE(PlanDrizzle(f, {edited}, {"0000_a"}).state.drift[0].accepted);
  EXPECT_TRUE(UnacceptedDrift(PlanDrizzle(f, {edited}, {"*"}).state).empty());
}

TEST(DrizzlePlan, RowWithoutJournalEntryIsUnknown) {
  auto f = MakeFolder({{100, "0000_a"}, {300, "0001_b"}});
  auto p = PlanDrizzle(f, {Row(1, f.migrations[0]), {2, "abc", 250}}, {});
  EXPECT_EQ(p.state.unknown, (std::vector<std::string>{"created_at=250"}));
  EXPECT_EQ(p.state.current_version, "created_at=250");
  EXPECT_EQ(p.pending, (std::vector<size_t>{1}));
}

// ---- Apply against a fake database ----

// Just enough of PostgreSQL for the engine: transactions, the history table and audit rows. The
// engine's own rows (history, succeeded audit rows) arrive as simple-query text inside the batch's
// transaction; a failed batch's audit rows as parameterised INSERTs after the rollback.
class FakeDb : public Database {
 public:
  struct HistRow {
    std::string hash, created_at;
  };
  std::vector<HistRow> history, staged;
  std::vector<std::string> executed;  // every migration statement sent (including rolled back)
  std::map<std::string, std::string> audit_status;  // version -> status
  std::map<std::string, std::string> audit_error;   // version -> error
  std::vector<std::string> staged_audit;            // versions of succeeded rows not yet committed
  int commits = 0;                                  // COMMITs (and autocommitted audit rows)
  bool in_tx = false, aborted = false;
  std::string fail_on;            // substring of a statement that fails
  Code fail_code = Code::kDatabase;
  int fail_times = 1 << 30;       // how many times it fails before succeeding

  // The n-th single-quoted literal of sql (0-based), unescaped.
  static std::string Literal(const std::string& sql, int n) {
    size_t i = 0;
    for (int k = 0;; ++k) {
      size_t open = sql.find('\'', i);
      if (open == std::string::npos) return "";
      std::string v;
      size_t j = open + 1;
      for (; j < sql.size(); ++j) {
        if (sql[j] == '\'' && j + 1 < sql.size() && sql[j + 1] == '\'') {
          v += '\'';
          ++j;
        } else if (sql[j] == '\'') {
          break;
        } else {
          v += sql[j];
        }
      }
      if (k == n) return v;
      i = j + 1;
    }
  }

  Result<QueryResult> Query(const std::string& sql, const std::vector<SqlValue>& p) override {
    QueryResult r;
    if (sql.find("SELECT id, hash, created_at") != std::string::npos) {
      int id = 1;
      for (const auto& h : history) r.rows.push_back({std::to_string(id++), h.hash, h.created_at});
    } else if (sql.find("to_regclass") != std::string::npos) {
      r.rows.push_back({std::string("t")});
    } else if (sql.rfind("INSERT INTO \"public\".\"schema_upgrade_log\"", 0) == 0) {
      EXPECT_FALSE(in_tx) << "a failed batch's audit rows are written after its rollback";
      EXPECT_EQ(sql.find("'running'"), std::string::npos) << "no 'running' rows";
      audit_status[*p[2]] = *p[6];
      audit_error[*p[2]] = *p[10];
      ++commits;
    }
    return r;
  }
  Status ExecScript(const std::string& sql) override {
    if (sql == "BEGIN") {
      in_tx = true;
      staged.clear();
      staged_audit.clear();
      return Status::Ok();
    }
    if (sql == "COMMIT" || sql == "ROLLBACK") {
      if (sql == "COMMIT" && !aborted) {
        history.insert(history.end(), staged.begin(), staged.end());
        for (const auto& v : staged_audit) audit_status[v] = "succeeded";
        ++commits;
      }
      staged.clear();
      staged_audit.clear();
      in_tx = aborted = false;
      return Status::Ok();
    }
    if (sql.rfind("SET LOCAL ", 0) == 0) {
      EXPECT_TRUE(in_tx);
      return Status::Ok();
    }
    if (sql.rfind("insert into \"drizzle\".\"__drizzle_migrations\" (\"hash\", \"created_at\") values(", 0) == 0) {
      EXPECT_TRUE(in_tx);
      staged.push_back({Literal(sql, 0), Literal(sql, 1)});
      return Status::Ok();
    }
    if (sql.rfind("INSERT INTO \"public\".\"schema_upgrade_log\"", 0) == 0) {
      EXPECT_TRUE(in_tx) << "a succeeded audit row is written in the batch's transaction";
      EXPECT_NE(sql.find("'succeeded'"), std::string::npos) << sql;
      staged_audit.push_back(Literal(sql, 2));  // resource, engine, version
      return Status::Ok();
    }
    executed.push_back(sql);
    if (!fail_on.empty() && sql.find(fail_on) != std::string::npos && fail_times > 0) {
      --fail_times;
      aborted = true;
      return fail_code == Code::kLockTimeout
                 ? Status::Database("canceling statement due to lock timeout", "55P03").WithCode(Code::kLockTimeout)
                 : Status::Database("relation \"nope\" does not exist", "42P01");
    }
    return Status::Ok();
  }
  int BackendPid() override { return 4242; }
  Status Cancel() override { return Status::Ok(); }
  bool Healthy() override { return true; }
};

struct ApplyFixture {
  Folder f;
  FakeDb db;
  FakeClock clock{Clock::TimePoint{}};
  RunContext ctx;
  std::vector<Progress> events;
  ApplyFixture() {
    f.Add(0, 1000, "0000_a", "SELECT 'a1';\n--> statement-breakpoint\nSELECT 'a2';");
    f.Add(1, 2000, "0001_b", "SELECT 'b1';\n--> statement-breakpoint\nSELECT 'b2';");
    f.Add(2, 3000, "0002_c", "SELECT 'c1';");
    ctx.clock = &clock;
    ctx.on_progress = [this](const Progress& p) { events.push_back(p); };
  }
  RunReport Apply() { return NewDrizzleEngine(LocalFileSystem(), f.dir.path())->Apply(&db, ctx); }
};

TEST(DrizzleApply, AppliesAllPendingAndRecordsDrizzleRows) {
  ApplyFixture t;
  int sessions = 0;
  t.ctx.on_session = [&](int pid) { sessions += pid == 4242; };
  RunReport r = t.Apply();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[0].version, "0000_a");
  EXPECT_EQ(r.steps[0].statements, 2);
  ASSERT_EQ(t.db.history.size(), 3u);
  EXPECT_EQ(t.db.history[1].created_at, "2000");
  EXPECT_EQ(t.db.history[1].hash, Sha256Hex("SELECT 'b1';\n--> statement-breakpoint\nSELECT 'b2';"));
  EXPECT_EQ(sessions, 1);
  for (const auto& [version, st] : t.db.audit_status) EXPECT_EQ(st, "succeeded") << version;
  EXPECT_EQ(t.db.audit_status.size(), 3u);
  // One commit for the batch: history and audit rows included (issue 10).
  EXPECT_EQ(t.db.commits, 1);
  // Second run: nothing to do, nothing executed, no audit rows.
  t.db.executed.clear();
  RunReport again = t.Apply();
  EXPECT_TRUE(again.status.ok());
  EXPECT_TRUE(again.steps.empty());
  EXPECT_TRUE(t.db.executed.empty());
  EXPECT_EQ(t.db.audit_status.size(), 3u);
}

TEST(DrizzleApply, FailureRollsBackTheWholeBatchAndNamesTheStatement) {
  ApplyFixture t;
  t.db.fail_on = "'b2'";
  RunReport r = t.Apply();
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.code(), Code::kDatabase);
  EXPECT_EQ(r.status.sqlstate(), "42P01");
  EXPECT_EQ(r.failed_version, "0001_b");
  EXPECT_EQ(r.failed_file, t.f.dir.path() + "/0001_b.sql");
  EXPECT_EQ(r.failed_statement_index, 2);
  EXPECT_EQ(r.failed_statement_line, 3);
  EXPECT_EQ(r.failed_statement, "SELECT 'b2'");
  EXPECT_NE(r.status.message().find("rolled back"), std::string::npos) << r.status.message();
  EXPECT_TRUE(r.steps.empty());
  EXPECT_TRUE(t.db.history.empty());
  EXPECT_EQ(t.db.audit_status["0000_a"], "failed");
  EXPECT_NE(t.db.audit_error["0000_a"].find("rolled back"), std::string::npos);
  EXPECT_EQ(t.db.audit_status["0001_b"], "failed");
  EXPECT_NE(t.db.audit_error["0001_b"].find("relation \"nope\""), std::string::npos);
  EXPECT_EQ(t.db.audit_status["0002_c"], "failed");
  EXPECT_NE(t.db.audit_error["0002_c"].find("not applied"), std::string::npos);
}

TEST(DrizzleApply, LockTimeoutRetriesTheBatchWithBackoff) {
  ApplyFixture t;
  t.db.fail_on = "'c1'";
  t.db.fail_code = Code::kLockTimeout;
  t.db.fail_times = 2;
  RunReport r = t.Apply();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(t.db.history.size(), 3u);
  int retries = 0;
  for (const auto& e : t.events) retries += e.event == Progress::Event::kRetry;
  EXPECT_EQ(retries, 2);
  EXPECT_EQ(t.clock.Now() - Clock::TimePoint{}, std::chrono::milliseconds(1000 + 2000));
  // Each attempt re-ran the batch from its first statement.
  EXPECT_EQ(std::count(t.db.executed.begin(), t.db.executed.end(), "SELECT 'a1';\n"), 3);
}

TEST(DrizzleApply, LockTimeoutAfterRetriesIsReportedAsLockTimeout) {
  ApplyFixture t;
  t.db.fail_on = "'a1'";
  t.db.fail_code = Code::kLockTimeout;
  t.ctx.lock_retries = 2;
  RunReport r = t.Apply();
  EXPECT_EQ(r.status.code(), Code::kLockTimeout);
  EXPECT_NE(r.status.message().find("after 2 retries"), std::string::npos) << r.status.message();
  EXPECT_TRUE(t.db.history.empty());
}

TEST(DrizzleApply, CancelStopsBetweenStatements) {
  ApplyFixture t;
  int calls = 0;
  t.ctx.cancelled = [&] { return ++calls > 2; };
  RunReport r = t.Apply();
  EXPECT_EQ(r.status.code(), Code::kCancelled);
  EXPECT_EQ(t.db.executed.size(), 2u);
  EXPECT_TRUE(t.db.history.empty());
  EXPECT_FALSE(t.db.in_tx) << "the cancelled batch was rolled back";
  EXPECT_EQ(t.db.audit_status["0000_a"], "interrupted");
  EXPECT_EQ(t.db.audit_status["0001_b"], "interrupted");
}

TEST(DrizzleApply, UnacceptedDriftRefusesToRun) {
  ApplyFixture t;
  t.db.history.push_back({std::string(64, 'f'), "1000"});
  RunReport r = t.Apply();
  EXPECT_EQ(r.status.code(), Code::kGated);
  EXPECT_EQ(r.failed_version, "0000_a");
  EXPECT_NE(r.status.message().find("acceptDrift"), std::string::npos);
  EXPECT_TRUE(t.db.executed.empty());

  t.ctx.accept_drift = {"0000_a"};
  RunReport ok = t.Apply();
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  EXPECT_EQ(ok.steps.size(), 2u);
}

}  // namespace
}  // namespace su
