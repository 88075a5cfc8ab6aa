// `schema-upgrade plan --rehearse` and `apply` with policy.rehearse, the real binary against a real
// PostgreSQL: the per-migration report (durations, locks with hold times, rows, table sizes) in
// text, JSON and markdown; a failing migration caught on the copy (exit 1 naming the file and the
// statement) with the real database untouched (schema byte for byte, history, no backup); the
// scratch copy never left behind; policy.rehearseOn puts the copy on a second server, whose
// password appears in no output.
#include <gtest/gtest.h>
// cpprestsdk's U() macro clashes with gtest's template parameters; we do not need it.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>

#include <filesystem>
#include <regex>

#include "reconcilers/rehearsal/scratch_database.h"
#include "tests/integration/cli/cli_fixture.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

using web::json::value;

class CliRehearseTest : public CliFixture {
 protected:
  // Migration 1 (users with 100 rows) applied; migration 2 pending: adds a column (an
  // AccessExclusiveLock on users) and fills it (100 rows).
  void WriteUsersThenAlter() {
    WriteMigration(1, "users",
                   "CREATE TABLE users (id int PRIMARY KEY, email text);\n"
                   "INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 100) g;\n");
    WriteManifest();
    CliResult r = Run({"apply", "-f", Manifest()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    WriteMigration(2, "add_score",
                   "ALTER TABLE users ADD COLUMN score int;\n"
                   "UPDATE users SET score = id * 2;\n");
  }
  // Migration 1 applied; migration 2 fails at its second statement (line 2).
  void WriteUsersThenBroken() {
    WriteMigration(1, "users", "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1), (2);\n");
    WriteManifest();
    CliResult r = Run({"apply", "-f", Manifest()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    WriteMigration(2, "broken",
                   "ALTER TABLE users ADD COLUMN email text;\n"
                   "ALTER TABLE users ADD COLUMN id int;\n");
  }
  // Every su_rehearse_* database on the server (the fixture resource's copy and any other).
  std::string Copies() {
    return Scalar("SELECT count(*) FROM pg_database WHERE datname = '" + ScratchDatabaseName(kKey) + "'");
  }
  int Backups() {
    int n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir_.Path("state/backups"), ec);
         !ec && it != std::filesystem::directory_iterator(); ++it) {
      ++n;
    }
    return n;
  }
  static value ParseJson(const std::string& text) {
    try {
      return value::parse(text);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "):\n" << text;
      return value::null();
    }
  }
};

TEST_F(CliRehearseTest, PlanRehearseTextReportsDurationLocksRowsAndTableSizesAndChangesNothing) {
  WriteUsersThenAlter();
  const std::string before = SchemaDump();

  CliResult r = Run({"plan", "-f", Manifest(), "--rehearse"});

  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string& o = r.out;
  EXPECT_TRUE(Contains(o, "\nRehearsal: rehearsal ok on a copy (")) << o;
  EXPECT_TRUE(Contains(o, "1 migration(s) in ")) << o;
  EXPECT_TRUE(Contains(o, "  copy: " + ScratchDatabaseName(kKey) + " by ")) << o;
  EXPECT_TRUE(Contains(o, ", dropped\n")) << o;
  EXPECT_TRUE(std::regex_search(o, std::regex("\n  ok   " + Ver(2) + " add_score  \\d+ ms\n"))) << o;
  EXPECT_TRUE(std::regex_search(o, std::regex("\n      1\\. ALTER TABLE users ADD COLUMN score int  \\d+ ms\n"))) << o;
  EXPECT_TRUE(std::regex_search(o, std::regex("\n      2\\. UPDATE users SET score = id \\* 2  \\d+ ms, 100 row\\(s\\)\n")))
      << o;
  EXPECT_TRUE(std::regex_search(
      o, std::regex("\n      lock AccessExclusiveLock on public\\.users \\(statement 1\\) held \\d+ ms\n")))
      << o;
  EXPECT_TRUE(std::regex_search(o, std::regex("\n      table public\\.users: [^\n]*, \\d+(\\.\\d)? [kM]?B\n"))) << o;

  // The real database: as before, byte for byte; the copy is gone.
  EXPECT_EQ(SchemaDump(), before);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'score'"),
            "0");
  EXPECT_EQ(Copies(), "0");
}

TEST_F(CliRehearseTest, PlanRehearseJsonCarriesThePerMigrationReport) {
  WriteUsersThenAlter();

  CliResult r = Run({"plan", "-f", Manifest(), "--rehearse", "-o", "json"});

  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  value j = ParseJson(r.out);
  ASSERT_TRUE(j.is_object() && j.has_field("rehearsal")) << r.out;
  const value& h = j.at("rehearsal");
  EXPECT_TRUE(h.at("ran").as_bool());
  EXPECT_TRUE(h.at("ok").as_bool());
  EXPECT_TRUE(h.at("dropped").as_bool());
  EXPECT_EQ(h.at("scratchDatabase").as_string(), ScratchDatabaseName(kKey));
  const std::string method = h.at("copyMethod").as_string();
  EXPECT_TRUE(method == "template" || method == "dump-restore") << method;
  ASSERT_EQ(h.at("migrations").size(), 1u) << r.out;
  const value& m = h.at("migrations").at(0);
  EXPECT_EQ(m.at("version").as_string(), Ver(2));
  EXPECT_EQ(m.at("name").as_string(), "add_score");
  EXPECT_TRUE(m.at("ok").as_bool());
  EXPECT_GE(m.at("durationMs").as_number().to_int64(), 0);
  ASSERT_EQ(m.at("statements").size(), 2u) << r.out;
  EXPECT_EQ(m.at("statements").at(1).at("rows").as_number().to_int64(), 100);
  EXPECT_FALSE(m.at("statements").at(0).has_field("rows")) << "DDL has no row count";
  bool exclusive_on_users = false;
  for (const auto& l : m.at("locks").as_array()) {
    if (l.at("relation").as_string() == "public.users" && l.at("mode").as_string() == "AccessExclusiveLock") {
      exclusive_on_users = true;
      EXPECT_EQ(l.at("statement").as_integer(), 1);
      EXPECT_GE(l.at("heldMs").as_number().to_int64(), 0);
    }
  }
  EXPECT_TRUE(exclusive_on_users) << r.out;
  ASSERT_GE(m.at("tables").size(), 1u) << r.out;
  EXPECT_EQ(m.at("tables").at(0).at("name").as_string(), "public.users");
  EXPECT_GT(m.at("tables").at(0).at("bytes").as_number().to_int64(), 0);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Copies(), "0");
}

TEST_F(CliRehearseTest, PlanRehearseMarkdownHasTheReportTable) {
  WriteUsersThenAlter();

  CliResult r = Run({"plan", "-f", Manifest(), "--rehearse", "-o", "markdown"});

  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string& o = r.out;
  EXPECT_TRUE(Contains(o, "\n### Rehearsal on a copy\n\n:white_check_mark: rehearsal ok on a copy (")) << o;
  EXPECT_TRUE(Contains(o, "| migration | result | duration | locks (mode on relation, held) | rows | tables |\n")) << o;
  EXPECT_TRUE(std::regex_search(o, std::regex("\n\\| `" + Ver(2) + "` add_score \\| ok \\| \\d+ ms \\| [^\n]*"
                                              "AccessExclusiveLock on `public\\.users` \\d+ ms[^\n]*\\| 100 \\| "
                                              "`public\\.users` [^\n]*B \\|\n")))
      << o;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Copies(), "0");
}

TEST_F(CliRehearseTest, AFailingMigrationMakesPlanRehearseExit1NamingFileAndStatementWithTheDatabaseUntouched) {
  WriteUsersThenBroken();
  const std::string before = SchemaDump();

  CliResult r = Run({"plan", "-f", Manifest(), "--rehearse"});

  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string all = r.out + r.err;
  EXPECT_TRUE(Contains(all, "rehearsal FAILED at migration " + Ver(2) + " statement 2 (")) << all;
  EXPECT_TRUE(Contains(all, Ver(2) + "_broken.up.sql")) << all;
  EXPECT_TRUE(Contains(all, "column \"id\" of relation \"users\" already exists")) << all;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  FAIL " + Ver(2) + " broken  \\d+ ms\n"))) << r.out;
  EXPECT_TRUE(Contains(r.out, ", dropped\n")) << r.out;

  EXPECT_EQ(SchemaDump(), before);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Copies(), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'su\\_rehearse\\_%'"), "0");

  // JSON says the same, and exits the same.
  CliResult j = Run({"plan", "-f", Manifest(), "--rehearse", "-o", "json"});
  EXPECT_EQ(j.exit_code, 1) << j.out << j.err;
  value v = ParseJson(j.out);
  ASSERT_TRUE(v.is_object() && v.has_field("rehearsal")) << j.out;
  const value& h = v.at("rehearsal");
  EXPECT_FALSE(h.at("ok").as_bool());
  EXPECT_EQ(h.at("failure").at("version").as_string(), Ver(2));
  EXPECT_EQ(h.at("failure").at("statement").as_integer(), 2);
  EXPECT_TRUE(Contains(h.at("failure").at("summary").as_string(), "ALTER TABLE users ADD COLUMN id int")) << j.out;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Copies(), "0");
}

TEST_F(CliRehearseTest, ApplyWithPolicyRehearseRefusesBeforeTheBackupWhenTheRehearsalFails) {
  WriteUsersThenBroken();
  WriteManifest({"    rehearse: true", "    backup: {enabled: true}"});
  const std::string before = SchemaDump();
  const int backups_before = Backups();

  CliResult r = Run({"apply", "-f", Manifest()});

  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string all = r.out + r.err;
  EXPECT_TRUE(Contains(all, "rehearsal FAILED at migration " + Ver(2) + " statement 2 (")) << all;
  EXPECT_TRUE(Contains(all, "nothing was changed on the real database")) << all;
  EXPECT_EQ(Backups(), backups_before) << "a backup was taken before the rehearsal stopped the run";
  EXPECT_EQ(SchemaDump(), before);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Copies(), "0");

  CliResult s = Run({"status", "--all", "-o", "json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(Contains(s.out, "RehearsalFailed")) << s.out;

  // Fixed: the rehearsal passes, the backup is taken, the migration applies.
  WriteMigration(2, "broken", "ALTER TABLE users ADD COLUMN email text;\n");
  CliResult ok = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2)}));
  EXPECT_EQ(Backups(), backups_before + 1);
  EXPECT_EQ(Copies(), "0");
}

// policy.rehearseOn: the copy goes on a second server (its DSN from a file, as spec.database's
// can be); the report says where; no copy stays on either server; neither password is printed.
class CliRehearseOnTest : public CliRehearseTest {
 protected:
  static PgServer& Other() {
    static PgServer other;  // stopped and deleted at exit
    return other;
  }
  std::string CopiesOnOther() {
    auto db = ConnectPostgres(Other().Dsn(), "cli-test-observer");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return "<no db>";
    auto r = (*db)->Query("SELECT count(*) FROM pg_database WHERE datname LIKE 'su\\_rehearse\\_%'");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->Get(0, 0) : "<error>";
  }
  void ExpectNoOtherPassword(const CliResult& r) {
    EXPECT_FALSE(Contains(r.out + r.err, Other().password())) << "the rehearsal server's password leaked:\n"
                                                               << r.out << r.err;
  }
};

TEST_F(CliRehearseOnTest, PlanRehearseCopiesOntoTheServerNamedInTheSpec) {
  WriteUsersThenAlter();
  dir_.Write("rehearsal.dsn", Other().Dsn() + "\n");
  WriteManifest({"    rehearseOn:", "      dsnFrom: {file: rehearsal.dsn}"});
  const std::string before = SchemaDump();

  CliResult r = Run({"plan", "-f", Manifest(), "--rehearse"});

  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "\nRehearsal: rehearsal ok on a copy on the rehearsal server (dump-restore, ")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  copy: " + ScratchDatabaseName(kKey) +
                                  " on the rehearsal server (policy.rehearseOn) by dump-restore")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n      2\\. UPDATE users SET score = id \\* 2  \\d+ ms, 100 row\\(s\\)\n")))
      << r.out;
  ExpectNoOtherPassword(r);
  CliResult j = Run({"plan", "-f", Manifest(), "--rehearse", "-o", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.out << j.err;
  value v = ParseJson(j.out);
  ASSERT_TRUE(v.is_object() && v.has_field("rehearsal")) << j.out;
  EXPECT_EQ(v.at("rehearsal").at("server").as_string(), "rehearseOn");
  ExpectNoOtherPassword(j);

  EXPECT_EQ(CopiesOnOther(), "0");
  EXPECT_EQ(Copies(), "0");
  EXPECT_EQ(SchemaDump(), before);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
}

TEST_F(CliRehearseOnTest, ApplyWithRehearseOnRehearsesThereThenAppliesHere) {
  WriteUsersThenBroken();
  dir_.Write("rehearsal.dsn", Other().Dsn() + "\n");
  WriteManifest({"    rehearse: true", "    rehearseOn: {dsnFrom: {file: rehearsal.dsn}}"});

  CliResult bad = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_TRUE(Contains(bad.out + bad.err, "rehearsal FAILED at migration " + Ver(2) + " statement 2 (")) << bad.out << bad.err;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  ExpectNoOtherPassword(bad);
  CliResult s = Run({"status", "--all", "-o", "json"});
  ExpectNoOtherPassword(s);

  WriteMigration(2, "broken", "ALTER TABLE users ADD COLUMN email text;\n");
  CliResult ok = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2)}));
  ExpectNoOtherPassword(ok);
  CliResult st = Run({"status", "--all"});
  EXPECT_TRUE(Contains(st.out, "rehearsal ok on a copy on the rehearsal server")) << st.out;
  ExpectNoOtherPassword(st);
  EXPECT_EQ(CopiesOnOther(), "0");
  EXPECT_EQ(Copies(), "0");
}

TEST_F(CliRehearseOnTest, AnUnsetRehearseOnVariableIsBadInputNamingTheFieldAndChangesNothing) {
  WriteUsersThenAlter();
  WriteManifest({"    rehearse: true", "    rehearseOn: {dsnFrom: {env: SU_CLI_NO_SUCH_REHEARSAL_DSN}}"});
  const std::string before = SchemaDump();

  CliResult p = Run({"plan", "-f", Manifest(), "--rehearse"});
  CliResult a = Run({"apply", "-f", Manifest()});

  for (const CliResult* r : {&p, &a}) {
    EXPECT_EQ(r->exit_code, 2) << r->out << r->err;
    EXPECT_TRUE(Contains(r->out + r->err, "spec.policy.rehearseOn.dsnFrom.env: environment variable "
                                          "SU_CLI_NO_SUCH_REHEARSAL_DSN is not set or empty"))
        << r->out << r->err;
  }
  EXPECT_EQ(SchemaDump(), before);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
}

}  // namespace
}  // namespace su::testing
