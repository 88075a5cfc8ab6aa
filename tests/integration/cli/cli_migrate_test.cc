// `plan`, `apply`, `status`, `history`, `rollback`, `approve` of the real binary against a real
// PostgreSQL: outputs, exit codes (0 ok, 1 failed, 2 bad input, 3 lock busy, 4 gated), and
// what the database looks like afterwards (schema_migration rows, schema dumps compared byte
// for byte where a command promises to change nothing).
#include <gtest/gtest.h>
// cpprestsdk's U() macro clashes with gtest's template parameters; we do not need it.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>

#include <filesystem>
#include <regex>

#include "reconcilers/base/clock.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/database/advisory_lock.h"
#include "tests/integration/cli/cli_fixture.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

using web::json::value;

// Parses JSON text; fails the test (and returns null) when it does not parse.
value ParseJson(const std::string& text) {
  try {
    return value::parse(text);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON (" << e.what() << "):\n" << text;
    return value::null();
  }
}

std::string Str(const value& v, const std::string& field) {
  if (!v.is_object() || !v.has_field(field) || !v.at(field).is_string()) return "<missing " + field + ">";
  return v.at(field).as_string();
}

class CliMigrateTest : public CliFixture {
 protected:
  // Three migrations with down files; 2 and 3 carry lint warnings (2 on line 1, 3 on line 2).
  void WriteThree() {
    WriteMigration(1, "create_users", "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n",
                   "DROP TABLE users;\n");
    WriteMigration(2, "index_email", "CREATE INDEX users_email_idx ON users (email);\n",
                   "DROP INDEX users_email_idx;\n");
    WriteMigration(3, "add_created_at",
                   "SET lock_timeout = '5s';\n"
                   "ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT clock_timestamp();\n",
                   "ALTER TABLE users DROP COLUMN created_at;\n");
  }
  // Five migrations; the third fails at its second statement (line 3).
  void WriteFiveWithBrokenThird() {
    WriteMigration(1, "one", "CREATE TABLE one (id int);\n");
    WriteMigration(2, "two", "CREATE TABLE two (id int);\n");
    WriteMigration(3, "broken",
                   "CREATE TABLE three (id int);\n"
                   "-- this table does not exist\n"
                   "ALTER TABLE no_such_table ADD COLUMN x int;\n");
    WriteMigration(4, "four", "CREATE TABLE four (id int);\n");
    WriteMigration(5, "five", "CREATE TABLE five (id int);\n");
  }
  // The three migrations with the first applied (files 2 and 3 hidden while it runs): lint
  // reports on users as an existing table. With all three pending it reports nothing on users,
  // a table the plan itself creates (new and empty: reconcilers/sqltext/lint_plan.h).
  void WriteThreeFirstApplied() {
    WriteThree();
    WriteManifest();
    const std::string hidden = dir_.Path("hidden");
    std::filesystem::create_directories(hidden);
    auto move = [](const std::string& from, const std::string& to) { std::filesystem::rename(from, to); };
    for (auto [i, name] : {std::pair{2, "index_email"}, std::pair{3, "add_created_at"}}) {
      const std::string up = Mig(i, name), down = up.substr(0, up.size() - 7) + ".down.sql";
      move(up, hidden + "/up" + std::to_string(i));
      move(down, hidden + "/down" + std::to_string(i));
    }
    CliResult r = Run({"apply", "-f", Manifest()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    for (auto [i, name] : {std::pair{2, "index_email"}, std::pair{3, "add_created_at"}}) {
      const std::string up = Mig(i, name), down = up.substr(0, up.size() - 7) + ".down.sql";
      move(hidden + "/up" + std::to_string(i), up);
      move(hidden + "/down" + std::to_string(i), down);
    }
  }
  std::string Mig(int i, const std::string& name) const {
    return dir_.Path("migrations/" + Ver(i) + "_" + name + ".up.sql");
  }
  std::string PlanHash() {
    CliResult r = Run({"plan", "-f", Manifest(), "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Str(ParseJson(r.out), "hash");
  }
};

// ---- plan ----

TEST_F(CliMigrateTest, PlanTextListsPendingStatementsLintAndHashAndChangesNothing) {
  WriteThree();
  WriteManifest();
  std::string before = SchemaDump();
  CliResult r = Run({"plan", "-f", Manifest()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  const std::string& o = r.out;
  EXPECT_TRUE(Contains(o, "SchemaUpgrade clitest/app (service app, engine sql)\n")) << o;
  EXPECT_TRUE(Contains(o, "  database version: (empty)\n")) << o;
  EXPECT_TRUE(std::regex_search(o, std::regex("  plan hash:        [0-9a-f]{16}\n"))) << o;
  EXPECT_TRUE(Contains(o, "Pending: 3 migration(s)\n")) << o;
  EXPECT_TRUE(Contains(o, "  + " + Ver(1) + " create_users  (1 statement)\n"
                          "      CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL)")) << o;
  EXPECT_TRUE(Contains(o, "  + " + Ver(2) + " index_email  (1 statement)\n"
                          "      CREATE INDEX users_email_idx ON users (email)")) << o;
  EXPECT_TRUE(Contains(o, "  + " + Ver(3) + " add_created_at  (2 statements)\n"
                          "      SET lock_timeout = '5s'")) << o;
  // users is created by this very plan: new and empty, so nothing to warn about on it.
  EXPECT_FALSE(Contains(o, "[create-index-without-concurrently]")) << o;
  EXPECT_FALSE(Contains(o, "[add-column-volatile-default]")) << o;
  EXPECT_TRUE(Contains(o, "1. migrate: Apply 3 sql migration(s) " + Ver(1) + " .. " + Ver(3))) << o;
  EXPECT_EQ(SchemaDump(), before) << "plan changed the database";
  EXPECT_FALSE(TableExists("schema_migration"));
  EXPECT_FALSE(TableExists("users"));
}

// A pending backfill is shown as one (table, key, batch, size) and, after an interrupted run, with
// the rows done and the key it resumes after (docs/backfill.md).
TEST_F(CliMigrateTest, PlanShowsABackfillWithItsSizeAndWhereAnInterruptedRunResumes) {
  WriteMigration(1, "items", "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0);\n"
                             "INSERT INTO items (id) SELECT g FROM generate_series(1, 500) g;\nANALYZE items;\n");
  WriteManifest();
  CliResult first = Run({"apply", "-f", Manifest()});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  WriteMigration(2, "fill", "-- schema-upgrade: backfill table=items key=id batch=100 adaptive=false\n"
                            "UPDATE items SET n = n + 1 WHERE id BETWEEN $1 AND $2;\n");
  CliResult r = Run({"plan", "-f", Manifest()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string note = "Note: migration " + Ver(2) + "_fill is a backfill of items by id in batches of 100 "
                           "(fixed), each its own transaction; ~500 rows (planner estimate)";
  EXPECT_TRUE(Contains(r.out, note + "\n")) << r.out;
  // As data too: an object per pending backfill in JSON, a row in markdown.
  CliResult js = Run({"plan", "-f", Manifest(), "-o", "json"});
  ASSERT_EQ(js.exit_code, 0) << js.out << js.err;
  value j = ParseJson(js.out);
  ASSERT_TRUE(j.has_field("backfills") && j.at("backfills").size() == 1) << js.out;
  const value& b = j.at("backfills").at(0);
  EXPECT_EQ(Str(b, "version"), Ver(2));
  EXPECT_TRUE(Contains(Str(b, "file"), Ver(2) + "_fill.up.sql")) << Str(b, "file");
  EXPECT_EQ(Str(b, "table"), "items");
  EXPECT_EQ(Str(b, "key"), "id");
  EXPECT_EQ(b.at("batch").at("size").as_integer(), 100);
  EXPECT_FALSE(b.at("batch").at("adaptive").as_bool());
  EXPECT_EQ(b.at("batch").at("timeMs").as_integer(), 100) << "the default budget";
  EXPECT_EQ(b.at("batch").at("pauseMs").as_integer(), 10) << "the default pause";
  EXPECT_TRUE(b.at("tableExists").as_bool());
  EXPECT_EQ(b.at("rowsEstimate").as_integer(), 500);
  EXPECT_TRUE(b.at("interrupted").is_null());
  CliResult md = Run({"plan", "-f", Manifest(), "-o", "markdown"});
  ASSERT_EQ(md.exit_code, 0) << md.out << md.err;
  EXPECT_TRUE(Contains(md.out, "| `" + Ver(2) + "` | `items` | `id` | 100 (fixed), 10 ms pause | ~500 | - |\n"))
      << md.out;
  // An interrupted run (its progress row, as a killed apply leaves it): the plan says where it resumes.
  ASSERT_TRUE(db_->ExecScript("CREATE TABLE schema_upgrade_backfill (key text PRIMARY KEY, checksum text NOT NULL, last_key "
                   "text, rows_done bigint NOT NULL DEFAULT 0, batches bigint NOT NULL DEFAULT 0, started_at "
                   "timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now()); "
                   "INSERT INTO schema_upgrade_backfill (key, checksum, last_key, rows_done, batches) VALUES ('" +
                   Ver(2) + "', 'x', '200', 200, 2)").ok());
  CliResult again = Run({"plan", "-f", Manifest(), "-o", "json"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(Contains(again.out, "; an interrupted run did 200 rows in 2 batches: it resumes after key 200"))
      << again.out;
  const value resumed = ParseJson(again.out).at("backfills").at(0).at("interrupted");
  EXPECT_EQ(resumed.at("rowsDone").as_integer(), 200);
  EXPECT_EQ(resumed.at("batches").as_integer(), 2);
  EXPECT_EQ(Str(resumed, "resumeAfter"), "200");
  md = Run({"plan", "-f", Manifest(), "-o", "markdown"});
  EXPECT_TRUE(Contains(md.out, " | ~500 | 200 rows in 2 batches; resumes after key `200` |\n")) << md.out;
}

TEST_F(CliMigrateTest, PlanTextShowsLintFindingsOnAnExistingTable) {
  WriteThreeFirstApplied();
  std::string before = SchemaDump();
  CliResult r = Run({"plan", "-f", Manifest()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string& o = r.out;
  EXPECT_TRUE(Contains(o, "  database version: " + Ver(1) + "\n")) << o;
  EXPECT_TRUE(Contains(o, "Pending: 2 migration(s)\n")) << o;
  EXPECT_TRUE(Contains(o, "  " + Mig(2, "index_email") + ":1: warning [create-index-without-concurrently] ")) << o;
  EXPECT_TRUE(Contains(o, "  " + Mig(3, "add_created_at") + ":2: warning [add-column-volatile-default] ")) << o;
  EXPECT_TRUE(Contains(o, "      fix: use CREATE INDEX CONCURRENTLY in a file that starts with "
                          "`-- schema-upgrade: no-transaction`")) << o;
  EXPECT_TRUE(Contains(o, "1. migrate: Apply 2 sql migration(s) " + Ver(2) + " .. " + Ver(3))) << o;
  EXPECT_EQ(SchemaDump(), before) << "plan changed the database";
}

TEST_F(CliMigrateTest, PlanJsonParsesWithPendingFindingsAndHash) {
  WriteThreeFirstApplied();
  std::string before = SchemaDump();
  CliResult r = Run({"plan", "-f", Manifest(), "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  value j = ParseJson(r.out);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(Str(j, "resource"), kKey);
  EXPECT_TRUE(std::regex_match(Str(j, "hash"), std::regex("[0-9a-f]{16}"))) << Str(j, "hash");
  EXPECT_EQ(j.at("upToDate").as_bool(), false);
  const auto& pending = j.at("pending").as_array();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(Str(pending.at(0), "version"), Ver(2));
  EXPECT_EQ(Str(pending.at(1), "name"), "add_created_at");
  EXPECT_EQ(pending.at(1).at("statements").size(), 2u);
  EXPECT_EQ(pending.at(1).at("statements").at(1).as_string(),
            "ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT clock_timestamp()");
  EXPECT_EQ(pending.at(0).at("hasDown").as_bool(), true);
  bool volatile_default = false;
  for (const auto& f : j.at("findings").as_array()) {
    if (Str(f, "rule") == "add-column-volatile-default") {
      volatile_default = true;
      EXPECT_EQ(Str(f, "file"), Mig(3, "add_created_at"));
      EXPECT_EQ(f.at("line").as_integer(), 2);
      EXPECT_EQ(Str(f, "severity"), "warning");
      EXPECT_NE(Str(f, "suggestion"), "");
    }
  }
  EXPECT_TRUE(volatile_default) << r.out;
  // The hash is the same from every output format.
  CliResult text = Run({"plan", "-f", Manifest()});
  EXPECT_TRUE(Contains(text.out, "plan hash:        " + Str(j, "hash") + "\n")) << text.out;
  EXPECT_EQ(SchemaDump(), before);
}

TEST_F(CliMigrateTest, PlanMarkdownIsAPrComment) {
  WriteThreeFirstApplied();
  CliResult r = Run({"plan", "-f", Manifest(), "-o", "markdown"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string& o = r.out;
  EXPECT_TRUE(Contains(o, "### Schema upgrade `clitest/app`\n")) << o;
  EXPECT_TRUE(Contains(o, "2 sql migrations")) << o;
  EXPECT_TRUE(Contains(o, "<code>" + Ver(3) + "</code> add_created_at · 2 statements · one transaction")) << o;
  EXPECT_TRUE(Contains(o, "⚠️ **warning** `create-index-without-concurrently` at `" + Ver(2) + "_index_email.up.sql:1`"))
      << o;
  std::smatch hash;
  ASSERT_TRUE(std::regex_search(o, hash, std::regex("\\| Plan hash \\| `([0-9a-f]{16})` \\|"))) << o;
  EXPECT_TRUE(Contains(o, "schema-upgrade approve -f " + Manifest() + " --name clitest/app --hash " + hash[1].str()))
      << o;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)})) << "plan applied nothing";
}

// ---- apply ----

TEST_F(CliMigrateTest, ApplyAllThenRerunIsANoOp) {
  WriteThree();
  WriteManifest();
  CliResult r = Run({"apply", "-f", Manifest()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex("clitest/app: Succeeded: 3 migration\\(s\\) applied, database at " +
                                                 Ver(3) + " \\(\\d+ ms\\)\n")))
      << r.out;
  // Progress lines on stderr (not a terminal: one line per migration).
  EXPECT_TRUE(Contains(r.err, "[1/3] " + Ver(1) + " create_users  ok (")) << r.err;
  EXPECT_TRUE(Contains(r.err, "[3/3] " + Ver(3) + " add_created_at  ok (")) << r.err;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)}));
  EXPECT_TRUE(TableExists("users"));

  std::string after_first = SchemaDump();
  CliResult again = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(Contains(again.out, "clitest/app: Succeeded: ")) << again.out;
  EXPECT_EQ(again.err, "") << "no progress lines: nothing ran";
  EXPECT_EQ(History().size(), 3u);
  EXPECT_EQ(SchemaDump(), after_first);
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log WHERE direction = 'up'"), "3");
}

// The one-line summary counts what *this* run applied. Known bug (controller/cli/
// cmd_plan_apply.cc, CmdApply's summary): it prints st.applied.size(), the stored status's list,
// which keeps growing across runs of an unchanged spec, so a no-op re-run reports the earlier
// run's migrations as applied again.
TEST_F(CliMigrateTest, RerunSummarySaysZeroMigrationsApplied) {
  WriteThree();
  WriteManifest();
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  CliResult again = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(std::regex_match(again.out, std::regex("clitest/app: Succeeded: 0 migration\\(s\\) applied, database at " +
                                                     Ver(3) + " \\(\\d+ ms\\)\n")))
      << "a re-run applies nothing and must say so:\n" << again.out;
  // And after one more migration, the summary counts only that one.
  WriteMigration(4, "add_name", "ALTER TABLE users ADD COLUMN name text;\n");
  CliResult one = Run({"apply", "-f", Manifest(), "-q"});
  EXPECT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_TRUE(Contains(one.out, ": 1 migration(s) applied, database at " + Ver(4))) << one.out;
}

TEST_F(CliMigrateTest, ApplyDryRunLeavesTheDatabaseByteIdentical) {
  WriteThree();
  WriteManifest();
  std::string before = SchemaDump();
  CliResult r = Run({"apply", "-f", Manifest(), "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "Pending: 3 migration(s)\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "clitest/app: dry run, nothing was changed\n")) << r.out;
  EXPECT_EQ(SchemaDump(), before);
  EXPECT_FALSE(TableExists("schema_migration"));

  // Also with part of it applied: the dry run of the rest changes nothing.
  std::filesystem::remove(dir_.Path("migrations/" + Ver(3) + "_add_created_at.up.sql"));
  std::filesystem::remove(dir_.Path("migrations/" + Ver(3) + "_add_created_at.down.sql"));
  CliResult part = Run({"apply", "-f", Manifest(), "-q"});
  ASSERT_EQ(part.exit_code, 0) << part.out << part.err;
  WriteThree();
  before = SchemaDump();
  std::string log_rows = Scalar("SELECT count(*) FROM schema_upgrade_log");
  CliResult dry = Run({"apply", "-f", Manifest(), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_TRUE(Contains(dry.out, "Pending: 1 migration(s)\n")) << dry.out;
  EXPECT_EQ(SchemaDump(), before);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2)}));
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log"), log_rows);
}

// ---- a failing migration in the middle; history and status ----

TEST_F(CliMigrateTest, FailingMigrationExits1NamingFileAndStatementAndKeepsEarlierOnes) {
  WriteFiveWithBrokenThird();
  WriteManifest();
  CliResult r = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::string all = r.out + r.err;
  EXPECT_TRUE(Contains(r.out, "clitest/app: Failed: ")) << r.out;
  EXPECT_TRUE(Contains(all, Ver(3) + "_broken.up.sql")) << all;
  EXPECT_TRUE(Contains(all, "failed at statement 2 of 2 (line 3: ALTER TABLE no_such_table ADD COLUMN x int)"))
      << all;
  EXPECT_TRUE(Contains(all, "relation \"no_such_table\" does not exist")) << all;
  EXPECT_TRUE(Contains(r.out, "clitest/app: on failure: halt: nothing was undone\n")) << r.out;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2)}));
  EXPECT_TRUE(TableExists("two"));
  EXPECT_FALSE(TableExists("three")) << "the failing migration is rolled back as a whole";
  EXPECT_FALSE(TableExists("four"));

  // history: newest first. The newest row is the controller's record of the on-failure action
  // (halt), carrying the whole error; below it the failed migration with its own error and the
  // failing statement, then the two that succeeded.
  CliResult h = Run({"history", "--dsn-env", kDsnVar});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_EQ(h.out.rfind("ID     STARTED ", 0), 0u) << h.out;
  std::regex failed_row("\n\\d+ +\\S+ +clitest/app +" + Ver(3) + " +broken +up +failed +\\d+ +0/2\n"
                        "       error: relation \"no_such_table\" does not exist\n"
                        "       statement: statement 2 \\(line 3\\): ALTER TABLE no_such_table ADD COLUMN x int\n");
  EXPECT_TRUE(std::regex_search(h.out, failed_row)) << h.out;
  EXPECT_TRUE(std::regex_search(h.out, std::regex("\n\\d+ +\\S+ +clitest/app +20260101 +app +on-failure +succeeded"))) << h.out;
  EXPECT_LT(h.out.find("on-failure"), h.out.find(Ver(3))) << "newest first:\n" << h.out;
  EXPECT_LT(h.out.find(Ver(3)), h.out.find(Ver(2))) << "newest first:\n" << h.out;
  EXPECT_LT(h.out.find(Ver(2)), h.out.find(Ver(1))) << "newest first:\n" << h.out;

  CliResult hj = Run({"history", "--dsn-env", kDsnVar, "-o", "json"});
  ASSERT_EQ(hj.exit_code, 0) << hj.err;
  value rows = ParseJson(hj.out);
  ASSERT_TRUE(rows.is_array()) << hj.out;
  ASSERT_EQ(rows.size(), 5u) << hj.out;
  EXPECT_EQ(Str(rows.at(4), "direction"), "upgrade-start") << "what runDown counts from";
  EXPECT_EQ(Str(rows.at(0), "direction"), "on-failure");
  EXPECT_TRUE(Contains(Str(rows.at(0), "error"), Ver(3) + "_broken.up.sql")) << hj.out;
  const value& failed = rows.at(1);
  EXPECT_EQ(Str(failed, "version"), Ver(3));
  EXPECT_EQ(Str(failed, "name"), "broken");
  EXPECT_EQ(Str(failed, "status"), "failed");
  EXPECT_EQ(Str(failed, "direction"), "up");
  EXPECT_EQ(Str(failed, "resource"), kKey);
  EXPECT_EQ(Str(failed, "failingStatement"), "statement 2 (line 3): ALTER TABLE no_such_table ADD COLUMN x int");
  EXPECT_EQ(Str(failed, "error"), "relation \"no_such_table\" does not exist");
  // Rolled back as a whole: none of its statements stayed applied.
  EXPECT_EQ(failed.at("statementsApplied").as_integer(), 0);
  EXPECT_EQ(failed.at("statementsTotal").as_integer(), 2);
  EXPECT_EQ(Str(rows.at(2), "version"), Ver(2));
  EXPECT_EQ(Str(rows.at(2), "status"), "succeeded");
  EXPECT_EQ(Str(rows.at(3), "version"), Ver(1));
  EXPECT_GT(rows.at(0).at("id").as_integer(), rows.at(1).at("id").as_integer());
  EXPECT_GT(rows.at(1).at("id").as_integer(), rows.at(2).at("id").as_integer());
  // -f M.yaml reads the same database.
  CliResult hf = Run({"history", "-f", Manifest(), "-o", "json"});
  EXPECT_EQ(hf.exit_code, 0) << hf.err;
  EXPECT_EQ(ParseJson(hf.out).serialize(), rows.serialize());

  // status: Failed with the last error, text and JSON.
  CliResult s = Run({"status", "-f", Manifest()});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(Contains(s.out, "clitest/app: Failed")) << s.out;
  EXPECT_TRUE(Contains(s.out, "  last error:  ")) << s.out;
  EXPECT_TRUE(Contains(s.out, "  attempts:    1\n")) << s.out;
  EXPECT_TRUE(Contains(s.out, "    " + Ver(2) + " two  ")) << s.out;
  CliResult sj = Run({"status", "--all", "-o", "json"});
  ASSERT_EQ(sj.exit_code, 0) << sj.err;
  value st = ParseJson(sj.out);
  ASSERT_TRUE(st.is_array() && st.size() == 1) << sj.out;
  EXPECT_EQ(Str(st.at(0), "phase"), "Failed");
  EXPECT_TRUE(Contains(Str(st.at(0), "lastError"), Ver(3) + "_broken.up.sql")) << sj.out;
  EXPECT_EQ(st.at(0).at("attempts").as_integer(), 1);
  EXPECT_EQ(st.at(0).at("applied").size(), 2u);
  EXPECT_EQ(Str(st.at(0), "currentVersion"), Ver(2));
}

TEST_F(CliMigrateTest, StatusAfterApplyShowsSucceededAppliedAndAttempts) {
  CliResult empty = Run({"status", "--all"});
  EXPECT_EQ(empty.exit_code, 0);
  EXPECT_TRUE(Contains(empty.out, "no status recorded yet")) << empty.out;
  WriteThree();
  WriteManifest();
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  CliResult s = Run({"status", "-f", Manifest()});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(Contains(s.out, "clitest/app: Succeeded - app at 20260101 (database version " + Ver(3) + ")\n")) << s.out;
  EXPECT_TRUE(Contains(s.out, "  versions:    database " + Ver(3) + ", target 20260101\n")) << s.out;
  EXPECT_TRUE(Contains(s.out, "  applied:     3 migration(s)\n    " + Ver(1) + " create_users  ")) << s.out;
  EXPECT_TRUE(Contains(s.out, "    " + Ver(3) + " add_created_at  ")) << s.out;
  EXPECT_TRUE(Contains(s.out, "  attempts:    0\n")) << s.out;
  EXPECT_TRUE(Contains(s.out, "  condition:   Ready=True Succeeded")) << s.out;

  CliResult j = Run({"status", "--all", "-o", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  value st = ParseJson(j.out);
  ASSERT_TRUE(st.is_array() && st.size() == 1) << j.out;
  const value& one = st.at(0);
  EXPECT_EQ(Str(one, "resource"), kKey);
  EXPECT_EQ(Str(one, "phase"), "Succeeded");
  EXPECT_EQ(Str(one, "currentVersion"), Ver(3));
  EXPECT_EQ(Str(one, "lastError"), "");
  EXPECT_EQ(one.at("attempts").as_integer(), 0);
  ASSERT_EQ(one.at("applied").size(), 3u);
  EXPECT_EQ(Str(one.at("applied").at(0), "version"), Ver(1));
  EXPECT_EQ(Str(one.at("applied").at(2), "name"), "add_created_at");
}

// ---- rollback ----

TEST_F(CliMigrateTest, RollbackRunsDownsNewestFirstAndRemovesHistoryRows) {
  WriteThree();
  WriteManifest();
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);

  std::string before = SchemaDump();
  CliResult dry = Run({"rollback", "-f", Manifest(), "--to", Ver(1), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out, "clitest/app: would roll back 2 migration(s), newest first:\n"
                     "  - " + Ver(3) + " add_created_at\n"
                     "  - " + Ver(2) + " index_email\n");
  EXPECT_EQ(SchemaDump(), before);

  CliResult r = Run({"rollback", "-f", Manifest(), "--to", Ver(1)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "clitest/app: rolled back 2 migration(s); database at " + Ver(1) + "\n");
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_TRUE(TableExists("users"));
  EXPECT_FALSE(TableExists("users_email_idx"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND "
                   "column_name = 'created_at'"),
            "0");
  // The audit trail: 3 first (older row), then 2.
  CliResult h = Run({"history", "--dsn-env", kDsnVar, "-o", "json"});
  value rows = ParseJson(h.out);
  ASSERT_TRUE(rows.is_array() && rows.size() >= 2) << h.out;
  EXPECT_EQ(Str(rows.at(0), "version"), Ver(2));
  EXPECT_EQ(Str(rows.at(0), "direction"), "down");
  EXPECT_EQ(Str(rows.at(1), "version"), Ver(3));
  EXPECT_EQ(Str(rows.at(1), "direction"), "down");

  CliResult nothing = Run({"rollback", "-f", Manifest(), "--to", Ver(1)});
  EXPECT_EQ(nothing.exit_code, 0);
  EXPECT_EQ(nothing.out, "clitest/app: nothing to roll back (database at " + Ver(1) + ")\n");
}

// `--to 0` undoes every migration (the flag's help and the engine both say so). Known bug
// (controller/cli/cmd_lint_rollback.cc, CmdRollback: `if (to == "0") to = "";`): the CLI turns
// "0" into "" and the sql engine rejects "" ("rollback target '' is not a migration version"),
// so the command fails with exit 2 and rolls nothing back.
TEST_F(CliMigrateTest, RollbackToZeroUndoesEverything) {
  WriteThree();
  WriteManifest();
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  CliResult dry = Run({"rollback", "-f", Manifest(), "--to", "0", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(Contains(dry.out, "would roll back 3 migration(s), newest first:\n")) << dry.out;
  CliResult all = Run({"rollback", "-f", Manifest(), "--to", "0"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.out, "clitest/app: rolled back 3 migration(s); database at (empty)\n");
  EXPECT_EQ(History(), std::vector<std::string>{});
  EXPECT_FALSE(TableExists("users"));
}

TEST_F(CliMigrateTest, RollbackWithAMissingDownFileChangesNothing) {
  WriteThree();
  WriteManifest();
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  std::filesystem::remove(dir_.Path("migrations/" + Ver(2) + "_index_email.down.sql"));
  std::string before = SchemaDump();
  std::string log_rows = Scalar("SELECT count(*) FROM schema_upgrade_log");
  CliResult r = Run({"rollback", "-f", Manifest(), "--to", Ver(1)});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "schema-upgrade rollback: error: ")) << r.err;
  EXPECT_TRUE(Contains(r.err, Ver(2))) << "names the version without a down file: " << r.err;
  EXPECT_EQ(SchemaDump(), before);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)}));
  EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND "
                   "column_name = 'created_at'"),
            "1")
      << "the newest migration (which has a down file) must not be rolled back either";
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log"), log_rows);

  CliResult no_to = Run({"rollback", "-f", Manifest()});
  EXPECT_EQ(no_to.exit_code, 2);
  EXPECT_TRUE(Contains(no_to.err, "--to VERSION is required")) << no_to.err;
}

// A no-op apply reuses the last run's observation (<state-dir>/observations, issue 10): an
// apply that changed the database observes once more and writes it, a run that found nothing
// changed rewrites nothing, and every change between runs is still seen: the history changed by
// hand, an applied file edited, a damaged observations file.
TEST_F(CliMigrateTest, ANoOpApplyReusesTheLastObservationAndStillSeesEveryChange) {
  WriteThree();
  WriteManifest();
  // The apply observes once more after its change and keeps that: the next run starts from it.
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  const std::string observations = dir_.Path("state/observations");
  auto kept = LocalFileSystem()->Stat(observations);
  ASSERT_TRUE(kept.ok()) << "no observations file after an apply: " << kept.status().ToString();
  auto checksums = LocalFileSystem()->Stat(dir_.Path("state/file-checksums"));
  ASSERT_TRUE(checksums.ok());

  CliResult hit = Run({"apply", "-f", Manifest(), "-q"});
  ASSERT_EQ(hit.exit_code, 0) << hit.out << hit.err;
  EXPECT_TRUE(Contains(hit.out, ": 0 migration(s) applied, database at " + Ver(3))) << hit.out;
  EXPECT_EQ(*LocalFileSystem()->Stat(observations), *kept) << "a run that reused the observation rewrote it";
  EXPECT_EQ(*LocalFileSystem()->Stat(dir_.Path("state/file-checksums")), *checksums);

  // The last migration rolled back by hand between two runs: seen, applied again.
  ASSERT_TRUE(db_->Exec("ALTER TABLE users DROP COLUMN created_at").ok());
  ASSERT_TRUE(db_->Exec("DELETE FROM schema_migration WHERE version = '" + Ver(3) + "'").ok());
  CliResult again = Run({"apply", "-f", Manifest(), "-q"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(Contains(again.out, ": 1 migration(s) applied, database at " + Ver(3))) << again.out;
  auto after_change = LocalFileSystem()->Stat(observations);
  ASSERT_TRUE(after_change.ok());
  EXPECT_FALSE(*after_change == *kept) << "the apply that changed the history kept its new observation";
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  EXPECT_EQ(*LocalFileSystem()->Stat(observations), *after_change) << "the run after it found the observation kept";

  // A damaged observations file is ignored (and replaced by the next full observation).
  ASSERT_TRUE(LocalFileSystem()->WriteFileAtomic(observations, "schema-upgrade-observations\tgarbage\n").ok());
  CliResult damaged = Run({"apply", "-f", Manifest(), "-q"});
  ASSERT_EQ(damaged.exit_code, 0) << damaged.out << damaged.err;
  EXPECT_TRUE(Contains(damaged.out, ": 0 migration(s) applied, database at " + Ver(3))) << damaged.out;
  EXPECT_NE(LocalFileSystem()->ReadFile(observations)->find("\nend\t"), std::string::npos);

  // An applied file edited (a new size): drift, refused, whatever the last run observed.
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  WriteMigration(1, "create_users", "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, x int);\n",
                 "DROP TABLE users;\n");
  CliResult drift = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(drift.exit_code, 4) << drift.out << drift.err;
  EXPECT_TRUE(Contains(drift.out, "applied migration(s) " + Ver(1) + " changed since they ran (checksum drift)"))
      << drift.out;
}

// ---- drift ----

TEST_F(CliMigrateTest, EditedAppliedFileIsDriftPlanShowsItApplyRefusesUntilAccepted) {
  WriteThree();
  WriteManifest();
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  WriteMigration(4, "add_name", "ALTER TABLE users ADD COLUMN name text;\n");
  WriteMigration(2, "index_email", "-- reformatted\nCREATE INDEX users_email_idx ON users (email);\n");

  CliResult p = Run({"plan", "-f", Manifest()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(Contains(p.out, "Drift: 1 applied file(s) changed since they ran\n")) << p.out;
  EXPECT_TRUE(Contains(p.out, "  ! " + Ver(2) + " index_email: recorded ")) << p.out;
  EXPECT_TRUE(Contains(p.out, "(refused: restore the file or list the version in spec.policy.acceptDrift)")) << p.out;
  CliResult pj = Run({"plan", "-f", Manifest(), "-o", "json"});
  value j = ParseJson(pj.out);
  ASSERT_TRUE(j.is_object()) << pj.out;
  ASSERT_EQ(j.at("drift").size(), 1u);
  EXPECT_EQ(Str(j.at("drift").at(0), "version"), Ver(2));
  EXPECT_EQ(j.at("drift").at(0).at("accepted").as_bool(), false);

  std::string before = SchemaDump();
  CliResult a = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(a.exit_code, 4) << a.out << a.err;
  EXPECT_TRUE(Contains(a.out, "applied migration(s) " + Ver(2) + " changed since they ran (checksum drift)")) << a.out;
  EXPECT_EQ(SchemaDump(), before) << "a refused apply changes nothing";
  EXPECT_EQ(History().size(), 3u);

  WriteManifest({"    acceptDrift: [\"" + Ver(2) + "\"]"});
  CliResult accepted = Run({"plan", "-f", Manifest()});
  EXPECT_TRUE(Contains(accepted.out, "(accepted by policy.acceptDrift)")) << accepted.out;
  CliResult ok = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3), Ver(4)}));
  CliResult clean = Run({"plan", "-f", Manifest(), "-o", "json"});
  EXPECT_EQ(ParseJson(clean.out).at("drift").size(), 0u) << "the accepted checksum is stored: " << clean.out;
}

// ---- an unreachable server ----

// A server that is down is a transient failure: exit 1, "run apply again", the password never
// shown. After an earlier success the failing run does not say "Succeeded:" (it prints
// "Unknown:"); the stored status stays Succeeded, the last observation, with Ready=Unknown
// (DatabaseUnavailable): an outage does not make a resource at its target unready (issue 7).
TEST_F(CliMigrateTest, UnreachableServerAfterASuccessIsNotReportedAsSucceeded) {
  WriteThree();
  WriteManifest();
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  // Port 1 on loopback: nothing listens there, the connection is refused at once. The DSN keeps
  // the real password, so the leak check in Run() covers the connection error path.
  std::string down = "postgresql://postgres:" + PgServer::Shared().password() + "@127.0.0.1:1/" + dbname_;
  CliResult r = Run({"apply", "-f", Manifest()}, true, down);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "DatabaseUnavailable: cannot connect to PostgreSQL")) << r.out;
  EXPECT_TRUE(Contains(r.out, "clitest/app: not finished; run apply again (or with --wait 5s) to retry\n")) << r.out;
  EXPECT_FALSE(Contains(r.out, "clitest/app: Succeeded:")) << "a failed run must not say Succeeded:\n" << r.out;
  CliResult sj = Run({"status", "--all", "-o", "json"});
  value st = ParseJson(sj.out);
  ASSERT_TRUE(st.is_array() && st.size() == 1) << sj.out;
  EXPECT_TRUE(Contains(r.out, "clitest/app: Unknown: ")) << r.out;
  EXPECT_EQ(Str(st.at(0), "phase"), "Succeeded") << sj.out;
  EXPECT_EQ(Str(st.at(0), "currentVersion"), Ver(3)) << "the last observed version is kept: " << sj.out;
  std::string ready;
  for (const auto& c : st.at(0).at("conditions").as_array()) {
    if (Str(c, "type") == "Ready") ready = Str(c, "status") + "/" + Str(c, "reason");
  }
  EXPECT_EQ(ready, "Unknown/DatabaseUnavailable") << sj.out;
  EXPECT_EQ(st.at(0).at("attempts").as_integer(), 1);
}

// ---- lock busy ----

TEST_F(CliMigrateTest, ApplyWhileAnotherSessionHoldsTheLockExits3NamingTheHolder) {
  WriteThree();
  WriteManifest({"    lockWait: 1s"});

  auto holder = ConnectPostgres(dsn_, "clitest-holder");
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  int holder_pid = (*holder)->BackendPid();
  auto lock = MigrationLock::Acquire(holder->get(), LockKeyFor("schema-upgrade/" + dbname_),
                                     std::chrono::milliseconds(0), RealClock());
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();

  CliResult r = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  std::string all = r.out + r.err;
  EXPECT_TRUE(Contains(all, "the migration lock is held by pid " + std::to_string(holder_pid) +
                                " (application_name \"clitest-holder\"")) << all;
  EXPECT_TRUE(Contains(all, "after waiting 1s")) << all;
  EXPECT_FALSE(TableExists("schema_migration"));
  EXPECT_FALSE(TableExists("users"));

  lock->Release();
  CliResult ok = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(History().size(), 3u);
}

// ---- approval ----

TEST_F(CliMigrateTest, ApprovalRequiredGatesApplyUntilApproveWritesTheHash) {
  WriteThree();
  WriteManifest({"    approval:", "      required: true"});
  CliResult gated = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(gated.exit_code, 4) << gated.out << gated.err;
  std::string hash = PlanHash();
  EXPECT_TRUE(Contains(gated.out, "plan " + hash + " needs approval")) << gated.out;
  EXPECT_FALSE(TableExists("schema_migration"));

  CliResult a = Run({"approve", "-f", Manifest()});
  EXPECT_EQ(a.exit_code, 0) << a.out << a.err;
  EXPECT_EQ(a.out, "clitest/app: approved plan " + hash + " (3 pending migration(s)); written to " + Manifest() + "\n");
  std::string text = *LocalFileSystem()->ReadFile(Manifest());
  EXPECT_TRUE(Contains(text, "metadata:\n  annotations:\n    olympus.io/approved-plan-hash: \"" + hash + "\"\n"))
      << text;

  CliResult ok = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(Contains(ok.out, "3 migration(s) applied")) << ok.out;
  EXPECT_EQ(History().size(), 3u);
}

TEST_F(CliMigrateTest, ApproveWithAStaleHashRefusesAndLeavesTheFile) {
  WriteThree();
  WriteManifest({"    approval:", "      required: true"});
  std::string before = *LocalFileSystem()->ReadFile(Manifest());
  CliResult r = Run({"approve", "-f", Manifest(), "--hash", "0000000000000000"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "not 0000000000000000: the plan changed since it was reviewed")) << r.err;
  EXPECT_EQ(*LocalFileSystem()->ReadFile(Manifest()), before);
}

}  // namespace
}  // namespace su::testing
