// Bad input that used to get through (issue 7, section 4), each through the real binary on a real
// PostgreSQL: exit 2 with a message naming the file, field or flag, and nothing applied.
//  - migration files: NUL bytes and invalid UTF-8 (file and byte offset; sql and drizzle; apply,
//    plan and lint), FIFOs, symlinks to devices, directories named like migrations, looping
//    symlinks, files over the size limit: refused, never blocking or crashing;
//  - manifests: durations beyond their bounds, unknown time zones, empty files and folders,
//    deeply nested YAML, a DSN file that is a folder, malformed DSNs (never retried);
//  - flags: contradictions and empty values; a state dir that is a file or cannot be written.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "reconcilers/base/text_check.h"
#include "tests/integration/cli/cli_fixture.h"

namespace su::testing {
namespace {

class CliBadInputTest : public CliFixture {
 protected:
  // Runs with a bounded wait: a regression that blocks (a FIFO) fails in a minute, not ten.
  CliResult RunBounded(const std::vector<std::string>& args) {
    ProcessSpec spec;
    spec.argv.push_back(CliBinary());
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = {{"SU_STATE_DIR", dir_.Path("state")}, {kDsnVar, dsn_}};
    spec.timeout = std::chrono::seconds(60);
    CliResult r;
    auto res = PosixProcessRunner()->Run(spec);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    if (!res.ok()) return r;
    EXPECT_FALSE(res->timed_out) << "schema-upgrade blocked";
    r.exit_code = res->exit_code;
    r.out = res->out;
    r.err = res->err;
    return r;
  }
  // plan, apply and lint all refuse with exit 2 naming `needle`; nothing is applied.
  void ExpectRefusedEverywhere(const std::string& needle) {
    for (const std::vector<std::string>& args : {std::vector<std::string>{"plan", "-f", Manifest()},
                                                  std::vector<std::string>{"apply", "-f", Manifest()},
                                                  std::vector<std::string>{"lint", dir_.Path("migrations")}}) {
      CliResult r = RunBounded(args);
      EXPECT_EQ(r.exit_code, 2) << args[0] << "\n" << r.out << r.err;
      // plan and lint report on stderr; apply prints the resource's Failed line on stdout.
      EXPECT_TRUE(Contains(r.out + r.err, needle)) << args[0] << " should name " << needle << ":\n" << r.out << r.err;
    }
    EXPECT_FALSE(TableExists("users")) << "nothing may be applied";
    EXPECT_FALSE(TableExists("b"));
  }
};

// ---- migration files ----

TEST_F(CliBadInputTest, NulByteInASqlMigrationIsRefusedWithFileAndOffset) {
  // Before: PostgreSQL received only the text before the NUL and the run said "succeeded 2/2".
  std::string f = WriteMigration(1, "nul", std::string("CREATE TABLE a (x int);\n") + '\0' +
                                               "CREATE TABLE b (x int);\n");
  WriteMigration(2, "users", "CREATE TABLE users (id int);\n");
  WriteManifest();
  ExpectRefusedEverywhere(f + ": byte offset 24 (line 2): NUL byte");
  EXPECT_FALSE(TableExists("a"));
  EXPECT_TRUE(History().empty());
}

TEST_F(CliBadInputTest, NulByteInsideAnInsertIsRefused) {
  std::string f = WriteMigration(1, "rows", "CREATE TABLE b (x text);\nINSERT INTO b VALUES ('one'), ('t" +
                                                std::string(1, '\0') + "wo');\n");
  WriteManifest();
  ExpectRefusedEverywhere(f + ": byte offset 58 (line 2): NUL byte");
}

TEST_F(CliBadInputTest, InvalidUtf8IsRefusedUpFrontLeavingValidStatusAndNoRunningAuditRow) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  std::string f = WriteMigration(2, "latin1", "CREATE TABLE b (x text);\nINSERT INTO b VALUES ('caf\xe9');\n");
  WriteManifest();
  CliResult r = RunBounded({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out + r.err, f + ": byte offset 51 (line 2): invalid UTF-8 (byte 0xe9)")) << r.out << r.err;
  EXPECT_FALSE(TableExists("users")) << "the check runs before the first migration";
  EXPECT_FALSE(TableExists("b"));
  // No audit row is left `running` after the process exited.
  if (TableExists("schema_upgrade_log")) {
    EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log WHERE status = 'running'"), "0");
  }
  // The status file (if written) is valid UTF-8 JSON.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Path("state/status"), ec)) {
    auto content = LocalFileSystem()->ReadFile(e.path().string());
    ASSERT_TRUE(content.ok());
    EXPECT_EQ(FirstInvalidUtf8(*content), std::string::npos) << *content;
  }
  CliResult lint = RunBounded({"lint", dir_.Path("migrations")});
  EXPECT_EQ(lint.exit_code, 2);
  EXPECT_TRUE(Contains(lint.err, f + ": byte offset 51")) << lint.err;
}

TEST_F(CliBadInputTest, NulByteInADrizzleMigrationIsRefused) {
  dir_.Write("drizzle/meta/_journal.json",
             R"({"version":"7","dialect":"postgresql","entries":[)"
             R"({"idx":0,"version":"7","when":1700000000000,"tag":"0000_init","breakpoints":true}]})");
  std::string f = dir_.Write("drizzle/0000_init.sql", std::string("CREATE TABLE users (id int);\n--> statement-breakpoint\n") +
                                                          '\0' + "CREATE TABLE b (id int);\n");
  dir_.Write("d.yaml",
             "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: app, namespace: clitest}\n"
             "spec:\n  targetVersion: v1\n  database: {dsnFrom: {env: " + std::string(kDsnVar) + "}}\n"
             "  migrations: {engine: drizzle, path: drizzle}\n");
  for (const char* cmd : {"plan", "apply"}) {
    CliResult r = RunBounded({cmd, "-f", dir_.Path("d.yaml")});
    EXPECT_EQ(r.exit_code, 2) << cmd << r.out << r.err;
    EXPECT_TRUE(Contains(r.out + r.err, f + ": byte offset 54 (line 3): NUL byte")) << cmd << r.out << r.err;
  }
  EXPECT_FALSE(TableExists("users"));
  EXPECT_FALSE(TableExists("drizzle.__drizzle_migrations"));
}

TEST_F(CliBadInputTest, AFifoNamedLikeAMigrationIsRefusedWithoutBlocking) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  std::string fifo = dir_.Path("migrations/" + Ver(2) + "_pipe.up.sql");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  WriteManifest();
  ExpectRefusedEverywhere(fifo + ": is a FIFO (named pipe), not a regular file");
}

TEST_F(CliBadInputTest, ASymlinkToDevZeroIsRefusedNotACrash) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  std::string link = dir_.Path("migrations/" + Ver(2) + "_zero.up.sql");
  ASSERT_EQ(::symlink("/dev/zero", link.c_str()), 0);
  WriteManifest();
  ExpectRefusedEverywhere(link + ": is a character device, not a regular file");
}

TEST_F(CliBadInputTest, ADirectoryNamedLikeAMigrationIsRefusedNotSkipped) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  dir_.Write("migrations/" + Ver(2) + "_dir.up.sql/inner.sql", "SELECT 1;");
  WriteManifest();
  for (const char* cmd : {"plan", "apply"}) {
    CliResult r = RunBounded({cmd, "-f", Manifest()});
    EXPECT_EQ(r.exit_code, 2) << cmd << r.out << r.err;
    EXPECT_TRUE(Contains(r.out + r.err, Ver(2) + "_dir.up.sql: is a directory named like a migration file"))
        << cmd << r.out << r.err;
  }
  EXPECT_FALSE(TableExists("users")) << "the rest must not be applied without version 2";
  CliResult lint = RunBounded({"lint", dir_.Path("migrations")});
  EXPECT_EQ(lint.exit_code, 2) << lint.out << lint.err;
  EXPECT_TRUE(Contains(lint.err, "_dir.up.sql: is a directory")) << lint.err;
}

TEST_F(CliBadInputTest, ASelfReferencingSymlinkIsBadInputExit2) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  std::string link = dir_.Path("migrations/" + Ver(2) + "_loop.up.sql");
  ASSERT_EQ(::symlink(link.c_str(), link.c_str()), 0);
  WriteManifest();
  ExpectRefusedEverywhere(link + ": cannot read: a symbolic link that points to itself or loops");
}

TEST_F(CliBadInputTest, AnUnreadableMigrationIsBadInputExit2) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  std::string f = WriteMigration(2, "secret", "CREATE TABLE b (x int);\n");
  WriteManifest();
  ASSERT_EQ(::chmod(f.c_str(), 0), 0);
  // root reads any file: run as nobody then (setpriv), with the folders made traversable.
  std::vector<std::string> prefix;
  if (::geteuid() == 0) {
    prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    for (const std::string& d : {dir_.path(), dir_.Path("migrations")}) ASSERT_EQ(::chmod(d.c_str(), 0755), 0);
    ASSERT_EQ(::chmod(Manifest().c_str(), 0644), 0);
  }
  for (const std::vector<std::string>& args : {std::vector<std::string>{"plan", "-f", Manifest()},
                                                std::vector<std::string>{"lint", dir_.Path("migrations")}}) {
    ProcessSpec spec;
    spec.argv = prefix;
    spec.argv.push_back(CliBinary());
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = {{"SU_STATE_DIR", dir_.Path("state")}, {kDsnVar, dsn_}};
    spec.timeout = std::chrono::seconds(60);
    auto r = PosixProcessRunner()->Run(spec);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->exit_code, 2) << args[0] << "\n" << r->out << r->err;
    EXPECT_TRUE(Contains(r->out + r->err, f + ": cannot read: Permission denied; make it readable"))
        << args[0] << "\n" << r->out << r->err;
  }
  EXPECT_FALSE(TableExists("users"));
}

TEST_F(CliBadInputTest, AFileOverTheSizeLimitIsRefusedNamingTheLimit) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  std::string big = WriteMigration(2, "big", "");
  ASSERT_EQ(::truncate(big.c_str(), 65LL * 1024 * 1024), 0);  // sparse
  WriteManifest();
  ExpectRefusedEverywhere(big + ": is 65 MB; files read here may be at most 64 MB");
}

// ---- manifests ----

TEST_F(CliBadInputTest, DurationsOutOfBoundsNameFileLineAndField) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  std::string huge;
  for (int i = 0; i < 3000; ++i) huge += "1000000000h";
  WriteManifest({"    lockWait: " + huge});  // line 15 (the fixture's lockWait line is replaced)
  CliResult r = RunBounded({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, Manifest() + ":15: spec.policy.lockWait: ")) << r.err;
  EXPECT_TRUE(Contains(r.err, "is longer than 8760h")) << r.err;

  WriteManifest({"    statementTimeout: 1000h"});  // line 16, after the default lockWait
  CliResult st = RunBounded({"plan", "-f", Manifest()});
  EXPECT_EQ(st.exit_code, 2) << st.out << st.err;
  EXPECT_TRUE(Contains(st.err, Manifest() + ":16: spec.policy.statementTimeout: is 1000h; PostgreSQL's "
                                            "statement_timeout takes at most 2147483647ms"))
      << st.err;
  EXPECT_FALSE(TableExists("users"));
}

TEST_F(CliBadInputTest, UnknownTimeZoneFailsAtPlanWithFileLineAndField) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  WriteManifest({"    maintenanceWindow:", "      start: \"02:00\"", "      end: \"04:00\"",
                 "      timeZone: Mars/Olympus"});
  CliResult r = RunBounded({"plan", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, Manifest() + ":19: spec.policy.maintenanceWindow.timeZone: \"Mars/Olympus\" is not a "
                                           "time zone this system knows"))
      << r.err;
}

TEST_F(CliBadInputTest, EmptyManifestFileAndFolderAreNamed) {
  std::string empty = dir_.Write("empty.yaml", "# nothing yet\n");
  CliResult f = RunBounded({"plan", "-f", empty});
  EXPECT_EQ(f.exit_code, 2);
  EXPECT_TRUE(Contains(f.err, empty + ": no SchemaUpgrade found: the file is empty or holds only comments")) << f.err;
  dir_.Write("manifests/README.md", "docs");
  CliResult d = RunBounded({"apply", "-f", dir_.Path("manifests")});
  EXPECT_EQ(d.exit_code, 2);
  EXPECT_TRUE(Contains(d.err, dir_.Path("manifests") + ": no SchemaUpgrade found: the folder holds no *.yaml"))
      << d.err;
}

TEST_F(CliBadInputTest, DeeplyNestedYamlGetsARealMessageWithTheFile) {
  std::string text = "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: app}\nspec: ";
  text += std::string(20000, '[') + std::string(20000, ']') + "\n";
  std::string path = dir_.Write("deep.yaml", text);
  CliResult r = RunBounded({"plan", "-f", path});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, path + ":")) << r.err;
  EXPECT_TRUE(Contains(r.err, "YAML nested too deeply")) << r.err;
  EXPECT_FALSE(Contains(r.err, "bad file")) << r.err;
}

TEST_F(CliBadInputTest, DsnFileThatIsADirectoryIsNamedAsSuch) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  dir_.Write("dsn.d/x", "");
  dir_.Write("m.yaml",
             "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: app, namespace: clitest}\n"
             "spec:\n  targetVersion: v1\n  database: {dsnFrom: {file: dsn.d}}\n"
             "  migrations: {engine: sql, path: migrations}\n");
  CliResult r = RunBounded({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out + r.err, "spec.database.dsnFrom.file: " + dir_.Path("dsn.d") + ": is a directory"))
      << r.out << r.err;
  EXPECT_FALSE(Contains(r.out + r.err, "is empty")) << r.out << r.err;
}

TEST_F(CliBadInputTest, MalformedDsnIsBadInputNotARetryableOutage) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  WriteManifest();
  const std::string secret = "Sup3rSecretPw";
  struct Case {
    std::string dsn, says;
  } cases[] = {
      {"postgresql://postgres:" + secret + "@127.0.0.1:99999/postgres", "port \"99999\" is not a port number"},
      {"postgresql://postgres:" + secret + "@127.0.0.1:5432/postgres?sslmod=disable",
       "invalid URI query parameter: \"sslmod\""},
      {"postgresql://postgres:" + secret + "%zz@127.0.0.1:5432/postgres", "invalid percent-encoded token"},
      {"host=127.0.0.1 port=abc password=" + secret, "port \"abc\" is not a port number"},
  };
  for (const auto& c : cases) {
    CliResult r = Run({"apply", "-f", Manifest(), "--wait", "30s"}, true, c.dsn);
    EXPECT_EQ(r.exit_code, 2) << c.dsn << "\n" << r.out << r.err;
    EXPECT_TRUE(Contains(r.out + r.err, "the PostgreSQL DSN is malformed: " + c.says)) << r.out << r.err;
    EXPECT_TRUE(Contains(r.out + r.err, "spec.database.dsnFrom")) << r.out << r.err;
    EXPECT_FALSE(Contains(r.out + r.err, "trying again")) << "never retried:\n" << r.out << r.err;
    EXPECT_FALSE(Contains(r.out + r.err, "DatabaseUnavailable")) << r.out << r.err;
    EXPECT_FALSE(Contains(r.out + r.err, secret)) << "the password leaked:\n" << r.out << r.err;
    CliResult h = Run({"history", "--dsn-env", kDsnVar}, true, c.dsn);
    EXPECT_EQ(h.exit_code, 2) << h.err;
    EXPECT_FALSE(Contains(h.out + h.err, secret));
  }
}

// ---- flags and the state dir ----

TEST_F(CliBadInputTest, ContradictingFlagsAndEmptyValuesAreRefused) {
  WriteManifest();
  CliResult s = RunBounded({"status", "-f", Manifest(), "--all"});
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_TRUE(Contains(s.err, "--all and -f contradict")) << s.err;
  CliResult h = RunBounded({"history", "--dsn-env", kDsnVar, "-f", Manifest()});
  EXPECT_EQ(h.exit_code, 2);
  EXPECT_TRUE(Contains(h.err, "--dsn-env and -f contradict")) << h.err;
  CliResult e = RunBounded({"plan", "--file="});
  EXPECT_EQ(e.exit_code, 2);
  EXPECT_TRUE(Contains(e.err, "flag --file has an empty value")) << e.err;
  EXPECT_FALSE(Contains(e.err, ": cannot read")) << e.err;
  CliResult e2 = RunBounded({"apply", "-f", ""});
  EXPECT_EQ(e2.exit_code, 2);
  EXPECT_TRUE(Contains(e2.err, "flag --file has an empty value")) << e2.err;
}

TEST_F(CliBadInputTest, StateDirThatIsAFileIsRefusedBeforeAnythingRuns) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  WriteManifest();
  std::string file = dir_.Write("state-file", "x");
  CliResult r = RunBounded({"apply", "-f", Manifest(), "--state-dir", file});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "state dir " + file + " (--state-dir or $SU_STATE_DIR): is not a folder")) << r.err;
  EXPECT_FALSE(TableExists("users"));
}

TEST_F(CliBadInputTest, StatusThatCannotBeSavedMidRunMakesTheExitCodeNonZero) {
  WriteMigration(1, "users", "CREATE TABLE users (id int);\n");
  WriteManifest();
  // The status folder exists, but every status write fails as on a full disk: a 1-block file size
  // limit (EFBIG; SIGXFSZ ignored so the write fails instead of killing the process).
  ASSERT_EQ(::mkdir(dir_.Path("state").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(dir_.Path("state/status").c_str(), 0755), 0);
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "ulimit -f 1 && trap '' XFSZ && exec \"$0\" \"$@\"", CliBinary(), "apply", "-f",
               Manifest()};
  spec.env = {{"SU_STATE_DIR", dir_.Path("state")}, {kDsnVar, dsn_}};
  spec.timeout = std::chrono::seconds(120);
  auto res = PosixProcessRunner()->Run(spec);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->exit_code, 1) << res->out << res->err;
  EXPECT_TRUE(Contains(res->err, "clitest/app: the status could not be saved in " + dir_.Path("state"))) << res->err;
  EXPECT_TRUE(TableExists("users")) << "the migration itself ran; only the status is lost";
}

}  // namespace
}  // namespace su::testing
