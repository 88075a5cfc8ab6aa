// The CLI's front door: version, usage, unknown commands and flags, bad manifests (file, line,
// field, nothing applied), a missing DSN variable, and `lint` (exit codes, file:line, rule,
// safer alternative, --strict, --disable, --rules). Exit codes: 0 ok, 1 failed, 2 bad input.
#include <gtest/gtest.h>

#include "tests/integration/cli/cli_fixture.h"

namespace su::testing {
namespace {

using CliInputTest = CliFixture;

TEST_F(CliInputTest, VersionPrintsNameAndVersion) {
  CliResult r = Run({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("schema-upgrade ", 0), 0u) << r.out;
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(r.err, "");
  CliResult dashed = Run({"--version"});
  EXPECT_EQ(dashed.exit_code, 0);
  EXPECT_EQ(dashed.out, r.out);
}

TEST_F(CliInputTest, NoArgumentsPrintsUsageOnStderrAndExits2) {
  CliResult r = Run({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(Contains(r.err, "usage: schema-upgrade <command> [flags]")) << r.err;
  for (const char* cmd : {"plan -f", "apply -f", "status", "history", "lint PATH", "rollback -f", "approve -f",
                          "controller --manifests", "version"}) {
    EXPECT_TRUE(Contains(r.err, std::string("  ") + cmd)) << cmd << " missing from usage:\n" << r.err;
  }
  EXPECT_TRUE(Contains(r.err, "exit codes: 0 ok, 1 failed, 2 bad input, 3 lock busy, 4 held back by a gate")) << r.err;
  // --help is the same text on stdout, exit 0.
  CliResult help = Run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out, r.err);
}

TEST_F(CliInputTest, UnknownCommandExits2NamingIt) {
  CliResult r = Run({"aply", "-f", "m.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(Contains(r.err, "schema-upgrade: unknown command \"aply\"")) << r.err;
  EXPECT_TRUE(Contains(r.err, "usage: schema-upgrade <command>")) << r.err;
}

TEST_F(CliInputTest, UnknownFlagExits2NamingItAndTheKnownOnes) {
  WriteManifest();
  CliResult r = Run({"apply", "-f", Manifest(), "--dryrun"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(Contains(r.err, "schema-upgrade apply: error: ")) << r.err;
  EXPECT_TRUE(Contains(r.err, "unknown flag --dryrun")) << r.err;
  EXPECT_TRUE(Contains(r.err, "--dry-run")) << "the known flags are listed: " << r.err;

  CliResult s = Run({"plan", "-x"});
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_TRUE(Contains(s.err, "unknown flag -x")) << s.err;

  CliResult o = Run({"plan", "-f", Manifest(), "-o", "yaml"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_TRUE(Contains(o.err, "--output must be text, json or markdown, not \"yaml\"")) << o.err;
  EXPECT_FALSE(TableExists("schema_migration"));
}

TEST_F(CliInputTest, CommandHelpListsFlagsAndExits0) {
  CliResult r = Run({"apply", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Contains(r.out, "usage: schema-upgrade apply -f M.yaml")) << r.out;
  EXPECT_TRUE(Contains(r.out, "--dry-run")) << r.out;
  EXPECT_TRUE(Contains(r.out, "-f, --file VALUE")) << r.out;
}

// ---- bad manifests: exit 2, file:line: field: what was expected; nothing applied ----

class CliManifestTest : public CliFixture {
 protected:
  void SetUp() override {
    CliFixture::SetUp();
    WriteMigration(1, "create_users", "CREATE TABLE users (id int PRIMARY KEY);\n");
  }
  // Writes bad.yaml and applies it; checks the shared expectations.
  CliResult ApplyBad(const std::string& text) {
    std::string path = dir_.Write("bad.yaml", text);
    CliResult r = Run({"apply", "-f", path});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(Contains(r.err, "schema-upgrade apply: error: ")) << r.err;
    EXPECT_FALSE(TableExists("schema_migration")) << "a bad manifest must not apply anything";
    EXPECT_FALSE(TableExists("users"));
    return r;
  }
  std::string Head(const std::string& spec_body) {
    return "apiVersion: olympus.io/v1alpha1\n"  // 1
           "kind: SchemaUpgrade\n"              // 2
           "metadata:\n"                        // 3
           "  name: app\n"                      // 4
           "spec:\n" +                          // 5
           spec_body;
  }
  std::string Bad() const { return dir_.Path("bad.yaml"); }
};

TEST_F(CliManifestTest, UnknownFieldNamesFileLineFieldAndSuggestsTheKnownOne) {
  CliResult r = ApplyBad(Head(
      "  targetVersion: \"20260101\"\n"          // 6
      "  database:\n"                            // 7
      "    dsnFrom: {env: SU_CLI_TEST_DSN}\n"    // 8
      "  migrations:\n"                          // 9
      "    engine: sql\n"                        // 10
      "    path: migrations\n"                   // 11
      "  policy:\n"                              // 12
      "    lockTimout: 5s\n"));                  // 13
  EXPECT_TRUE(Contains(r.err, Bad() + ":13: spec.policy.lockTimout: unknown field; did you mean lockTimeout?"))
      << r.err;
}

TEST_F(CliManifestTest, WrongTypeNamesFileLineFieldAndTheExpectedType) {
  CliResult r = ApplyBad(Head(
      "  targetVersion: \"20260101\"\n"          // 6
      "  database:\n"                            // 7
      "    dsnFrom: {env: SU_CLI_TEST_DSN}\n"    // 8
      "  migrations:\n"                          // 9
      "    engine: sql\n"                        // 10
      "    path: migrations\n"                   // 11
      "  policy:\n"                              // 12
      "    dryRun: \"false\"\n"                  // 13
      "    retries:\n"                           // 14
      "      limit: many\n"));                   // 15
  EXPECT_TRUE(Contains(r.err, Bad() + ":13: spec.policy.dryRun: is a quoted string; expected a boolean: true or false "
                                          "(unquoted)"))
      << r.err;
  // Every error of the file is reported, not only the first.
  EXPECT_TRUE(Contains(r.err, Bad() + ":15: spec.policy.retries.limit: is \"many\"; expected an integer")) << r.err;
}

TEST_F(CliManifestTest, MissingTargetVersionNamesFileLineAndField) {
  CliResult r = ApplyBad(Head(
      "  database:\n"                            // 6
      "    dsnFrom: {env: SU_CLI_TEST_DSN}\n"    // 7
      "  migrations:\n"                          // 8
      "    engine: sql\n"                        // 9
      "    path: migrations\n"));                // 10
  // The error sits on the `spec:` line, the mapping that lacks the field.
  EXPECT_TRUE(Contains(r.err, Bad() + ":5: spec.targetVersion: is required; expected the version to upgrade to"))
      << r.err;
}

TEST_F(CliManifestTest, MissingManifestFileExits2NamingIt) {
  CliResult r = Run({"plan", "-f", dir_.Path("nope.yaml")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, dir_.Path("nope.yaml"))) << r.err;
  CliResult none = Run({"apply"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(Contains(none.err, "no manifest given: pass -f FILE")) << none.err;
}

// ---- the DSN variable ----

TEST_F(CliManifestTest, UnsetDsnVariableExits2NamingTheVariable) {
  WriteManifest();
  for (const char* cmd : {"plan", "apply"}) {
    CliResult r = Run({cmd, "-f", Manifest()}, /*with_dsn=*/false);
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.out << r.err;
    EXPECT_TRUE(Contains(r.out + r.err, std::string("environment variable ") + kDsnVar +
                                            " is not set or empty; expected it to hold the PostgreSQL DSN"))
        << cmd << "\n" << r.out << r.err;
  }
  CliResult h = Run({"history", "--dsn-env", kDsnVar}, /*with_dsn=*/false);
  EXPECT_EQ(h.exit_code, 2);
  EXPECT_TRUE(Contains(h.err, std::string("environment variable ") + kDsnVar + " is not set")) << h.err;
  CliResult rb = Run({"rollback", "-f", Manifest(), "--to", "0"}, /*with_dsn=*/false);
  EXPECT_EQ(rb.exit_code, 2);
  EXPECT_TRUE(Contains(rb.err, kDsnVar)) << rb.err;
  EXPECT_FALSE(TableExists("schema_migration"));
}

// ---- lint ----

class CliLintTest : public CliFixture {
 protected:
  // A folder with one error-level file (CONCURRENTLY inside a transactional file, line 3) and
  // one warnings-only file.
  void WriteBoth() {
    dir_.Write("lint/001_concurrently.up.sql",
               "SET lock_timeout = '5s';\n"
               "-- an index for the email lookups\n"
               "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n");
    WriteWarningsOnly();
  }
  void WriteWarningsOnly() {
    dir_.Write("lint/002_drop.up.sql",
               "SET lock_timeout = '5s';\n"
               "ALTER TABLE users DROP COLUMN nickname;\n");
  }
  std::string Lint() const { return dir_.Path("lint"); }
};

TEST_F(CliLintTest, ErrorFindingExits1WithFileLineRuleAndSaferAlternative) {
  WriteBoth();
  CliResult r = Run({"lint", Lint()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, Lint() + "/001_concurrently.up.sql:3: error [concurrently-in-transaction] ")) << r.out;
  EXPECT_TRUE(Contains(r.out, "    statement: CREATE INDEX CONCURRENTLY")) << r.out;
  EXPECT_TRUE(Contains(r.out, "    safer: move the statement to its own file that starts with "
                              "`-- schema-upgrade: no-transaction`"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, Lint() + "/002_drop.up.sql:2: warning [drop-column] ")) << r.out;
  EXPECT_TRUE(Contains(r.out, "    safer: stop using the column in a release first, drop it in a later release"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "2 finding(s), 1 error(s)\n")) << r.out;

  // The same statement in a no-transaction file is fine.
  dir_.Write("lint/001_concurrently.up.sql",
             "-- schema-upgrade: no-transaction\n"
             "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);\n");
  CliResult ok = Run({"lint", Lint()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_FALSE(Contains(ok.out, "concurrently-in-transaction")) << ok.out;
}

TEST_F(CliLintTest, WarningsOnlyExit0AndStrictExit1) {
  WriteWarningsOnly();
  CliResult r = Run({"lint", Lint()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "002_drop.up.sql:2: warning [drop-column]")) << r.out;
  EXPECT_TRUE(Contains(r.out, "1 finding(s), 0 error(s)\n")) << r.out;

  CliResult strict = Run({"lint", "--strict", Lint()});
  EXPECT_EQ(strict.exit_code, 1) << strict.out;

  CliResult disabled = Run({"lint", "--strict", "--disable", "drop-column", Lint()});
  EXPECT_EQ(disabled.exit_code, 0) << disabled.out;
  EXPECT_EQ(disabled.out, "0 finding(s), 0 error(s)\n");
}

TEST_F(CliLintTest, DisableSkipsAnErrorRule) {
  WriteBoth();
  CliResult r = Run({"lint", "--disable", "concurrently-in-transaction", "--disable=drop-column", Lint()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(Contains(r.out, "concurrently-in-transaction")) << r.out;
  EXPECT_FALSE(Contains(r.out, "drop-column")) << r.out;
}

// A backfill file (docs/backfill.md): its UPDATE is batched, so it is not "UPDATE without WHERE";
// a bad directive gets the checks plan makes (the same function), as bad input naming the file,
// the line and the field.
TEST_F(CliLintTest, ABackfillFileIsCheckedAsPlanChecksItAndItsBatchedUpdateIsNotFlagged) {
  dir_.Write("lint/0001_create.sql", "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0);\n");
  const std::string fill = "lint/0002_fill.sql";
  dir_.Write(fill, "-- schema-upgrade: backfill table=items key=id batch=500\n"
                   "UPDATE items SET n = n + 1 WHERE id BETWEEN $1 AND $2;\n");
  CliResult ok = Run({"lint", "--strict", Lint()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.out, "0 finding(s), 0 error(s)\n");

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"-- schema-upgrade: backfill table=items key=id batch=lots\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;\n",
       "0002_fill.sql:1: backfill directive field 'batch' must be a positive whole number of rows (got 'lots')"},
      {"-- schema-upgrade: backfill key=id\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;\n",
       "0002_fill.sql:1: backfill directive field 'table' is missing"},
      {"-- schema-upgrade: backfill table=items key=id\n-- schema-upgrade: pause=soon\n"
       "UPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;\n",
       "0002_fill.sql:2: backfill directive field 'pause' must be a duration"},
      {"-- schema-upgrade: backfill table=items key=id batchsize=5\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;\n",
       "batchsize"},
      {"-- schema-upgrade: table=items key=id\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;\n",
       "directive 'table' belongs to a backfill"},
      {"-- schema-upgrade: backfill table=items key=id\nUPDATE items SET n = 1 WHERE id BETWEEN $1 AND $2;\n"
       "UPDATE items SET n = 0;\n",
       "0002_fill.sql:1: a backfill file holds exactly one statement"},
      {"-- schema-upgrade: backfill table=items key=id\nUPDATE items SET n = 1;\n",
       "0002_fill.sql:2: the backfill statement must use $1"},
  };
  for (const auto& [text, expect] : bad) {
    dir_.Write(fill, text);
    CliResult r = Run({"lint", Lint()});
    EXPECT_EQ(r.exit_code, 2) << text << "\n" << r.out << r.err;
    EXPECT_TRUE(Contains(r.err, expect)) << text << "\n" << r.err;
  }
}

TEST_F(CliLintTest, RulesListsEveryRuleWithItsDescription) {
  CliResult r = Run({"lint", "--rules"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* id : {"create-index-without-concurrently", "concurrently-in-transaction",
                         "add-column-volatile-default", "set-not-null", "alter-column-type", "add-constraint-not-valid",
                         "drop-column", "rename-column", "missing-lock-timeout"}) {
    bool found = false;
    size_t pos = 0;
    // Each rule on its own line, starting with its id.
    while ((pos = r.out.find(id, pos)) != std::string::npos) {
      if (pos == 0 || r.out[pos - 1] == '\n') found = true;
      pos += 1;
    }
    EXPECT_TRUE(found) << id << " not listed:\n" << r.out;
  }
}

TEST_F(CliLintTest, SingleFileJsonAndMissingPath) {
  std::string f = dir_.Write("one.sql", "CREATE INDEX CONCURRENTLY i ON t (c);\n");
  CliResult r = Run({"lint", "-o", "json", f});
  EXPECT_EQ(r.exit_code, 1);
  // One finding object; key order is the JSON library's, so check the members one by one.
  EXPECT_EQ(r.out.front(), '[') << r.out;
  for (const std::string& member : {"\"file\":\"" + f + "\"", std::string("\"line\":1"),
                                    std::string("\"rule\":\"concurrently-in-transaction\""),
                                    std::string("\"severity\":\"error\"")}) {
    EXPECT_TRUE(Contains(r.out, member)) << member << "\n" << r.out;
  }
  CliResult missing = Run({"lint", dir_.Path("nothing-here")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(Contains(missing.err, dir_.Path("nothing-here") + ": no such file or folder")) << missing.err;
  CliResult none = Run({"lint"});
  EXPECT_EQ(none.exit_code, 2);
}

}  // namespace
}  // namespace su::testing
