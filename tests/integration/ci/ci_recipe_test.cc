// The version-bump PR path as CI runs it: a git repository the test creates holds a SchemaUpgrade
// at v1.1.0 (sql engine, Kratos-like popx folder); a second commit raises it to v1.2.0 and adds
// the new migrations. examples/ci/plan-comment.sh must produce a comment listing exactly the new
// migrations with their statements and lint findings and the approval command, and a SARIF file
// that Microsoft's SARIF Multitool validates. Also the CLI pieces the recipe relies on: `lint -o
// sarif|github`, `--fail-on` exit codes, `plan --from` errors.
#include <gtest/gtest.h>

#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reconcilers/base/process.h"
#include "tests/support/cli_runner.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

namespace stdfs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ProcessResult RunProc(const std::vector<std::string>& argv, const std::string& cwd,
                  std::map<std::string, std::string> env = {}) {
  ProcessSpec s;
  s.argv = argv;
  s.cwd = cwd;
  s.env = std::move(env);
  s.timeout = std::chrono::minutes(5);
  auto r = PosixProcessRunner()->Run(s);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ProcessResult{};
}

void Git(const std::string& repo, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", "-c",
                                   "commit.gpgsign=false"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = RunProc(argv, repo);
  ASSERT_TRUE(r.Succeeded()) << FormatArgv(argv) << ": " << r.Tail(5);
}

std::string Manifest(const std::string& version) {
  return "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: kratos, namespace: ciam}\nspec:\n"
         "  # renovate: datasource=docker depName=oryd/kratos\n"
         "  targetVersion: " + version + "\n  image: oryd/kratos:" + version + "\n"
         "  database: {dsnFrom: {env: KRATOS_DSN}}\n"
         "  migrations: {engine: sql, path: ../kratos/migrations}\n"
         "  policy: {approval: {required: true}}\n";
}

const char* kOld[] = {"20240101000001000000_networks", "20240101000002000000_identities",
                      "20240101000003000000_identity_credentials", "20240101000004000000_sessions"};
const char* kNew[] = {"20240301000001000000_identity_verifiable_addresses", "20240301000002000000_sessions_add_aal",
                      "20240301000003000000_identities_add_metadata"};

// The Multitool's executable, installed from npm into the build folder's tools/ on first use.
std::string Multitool() {
  const char* tools = std::getenv("SU_TOOLS_DIR");
  std::string dir = std::string(tools ? tools : "/tmp/su-tools") + "/sarif-multitool";
  ProcessResult r = RunProc({"sh", SourceDir() + "/tests/support/install-sarif-multitool.sh", dir}, ".");
  EXPECT_TRUE(r.Succeeded()) << r.Tail(10);
  std::string bin = r.out;
  while (!bin.empty() && bin.back() == '\n') bin.pop_back();
  return bin;
}

// Validates with `Sarif.Multitool validate` and returns its results (ruleId: message) at level
// error or warning. Its exit code is 0 even when the file is invalid: the results say.
std::vector<std::string> ValidateSarif(const std::string& file, const std::string& work) {
  const std::string out = work + "/validation.sarif";
  ProcessResult r = RunProc({Multitool(), "validate", file, "-o", out, "--log", "ForceOverwrite"}, work,
                        {{"DOTNET_CLI_TELEMETRY_OPTOUT", "1"}});
  EXPECT_TRUE(r.Succeeded()) << r.Tail(20);
  std::vector<std::string> problems;
  auto v = web::json::value::parse(ReadAll(out));
  for (auto& run : v.at("runs").as_array()) {
    if (!run.has_field("results")) continue;
    for (auto& res : run.at("results").as_array()) {
      std::string level = res.has_field("level") ? res.at("level").as_string() : "warning";
      if (level != "error" && level != "warning") continue;
      problems.push_back(res.at("ruleId").as_string() + " " + res.at("message").serialize());
    }
  }
  return problems;
}

class CiRecipeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = dir_.Path("repo");
    stdfs::create_directories(repo_ + "/upgrades");
    stdfs::create_directories(repo_ + "/kratos/migrations");
    Git(repo_, {"init", "-q", "-b", "main"});
    const std::string fixtures = SourceDir() + "/tests/fixtures/images/kratos/migrations/";
    for (const char* m : kOld) stdfs::copy(fixtures + m + ".up.sql", repo_ + "/kratos/migrations/");
    std::ofstream(repo_ + "/upgrades/kratos.yaml") << Manifest("v1.1.0");
    std::ofstream(repo_ + "/README.md") << "service config\n";
    Git(repo_, {"add", "-A"});
    Git(repo_, {"commit", "-q", "-m", "kratos v1.1.0"});
    // The version-bump PR: a branch raising targetVersion and the image, with the new migrations
    // (one of them risky: an index built without CONCURRENTLY on an existing table).
    Git(repo_, {"checkout", "-q", "-b", "renovate/oryd-kratos-1.x"});
    std::ofstream(repo_ + "/upgrades/kratos.yaml") << Manifest("v1.2.0");
    for (const char* m : kNew) stdfs::copy(fixtures + m + ".up.sql", repo_ + "/kratos/migrations/");
    std::ofstream(repo_ + "/kratos/migrations/20240301000004000000_sessions_aal_index.up.sql")
        << "-- speeds up the AAL lookups\nCREATE INDEX sessions_aal_idx ON sessions (aal);\n";
    Git(repo_, {"add", "-A"});
    Git(repo_, {"commit", "-q", "-m", "Update oryd/kratos to v1.2.0"});
  }

  ProcessResult Script(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"bash", SourceDir() + "/examples/ci/plan-comment.sh", "--base", "main", "--out",
                                     out_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunProc(argv, repo_, {{"SCHEMA_UPGRADE", CliBinary()}});
  }

  TempDir dir_;
  std::string repo_, out_ = dir_.Path("out");
};

TEST_F(CiRecipeTest, VersionBumpPrGetsExactlyTheNewMigrationsFindingsApprovalAndValidSarif) {
  ProcessResult r = Script({"upgrades"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string c = ReadAll(out_ + "/comment.md");
  EXPECT_EQ(c.rfind("<!-- schema-upgrade-plan -->\n", 0), 0u) << "the marker the recipes find their comment by";
  EXPECT_NE(c.find("`ciam/kratos`: `v1.1.0` → `v1.2.0`, 4 sql migrations"), std::string::npos) << c;
  // Exactly the new migrations, each with its full statements; none of the old ones.
  for (const char* m : kOld) {
    std::string v = std::string(m).substr(0, 20);
    EXPECT_EQ(c.find("<code>" + v + "</code>"), std::string::npos) << v << " is not new:\n" << c;
  }
  for (const char* m : kNew) {
    std::string v = std::string(m).substr(0, 20);
    EXPECT_NE(c.find("<code>" + v + "</code> " + std::string(m).substr(21)), std::string::npos) << m << "\n" << c;
    std::string sql = ReadAll(SourceDir() + "/tests/fixtures/images/kratos/migrations/" + m + ".up.sql");
    std::string last_line = sql.substr(sql.rfind('\n', sql.size() - 2) + 1);
    EXPECT_NE(c.find(last_line), std::string::npos) << "statement text of " << m << " missing:\n" << c;
  }
  EXPECT_NE(c.find("<code>20240301000004000000</code> sessions_aal_index"), std::string::npos);
  EXPECT_NE(c.find("CREATE INDEX sessions_aal_idx ON sessions (aal);"), std::string::npos);
  EXPECT_NE(c.find("  identity_id UUID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,\n"), std::string::npos)
      << "whole multi-line statements";
  // The lint finding, with its fix, before the migrations.
  size_t risky = c.find("⚠️ **warning** `create-index-without-concurrently` at `20240301000004000000_sessions_aal_index.up.sql:2`");
  ASSERT_NE(risky, std::string::npos) << c;
  EXPECT_LT(risky, c.find("#### Migrations (4)"));
  EXPECT_NE(c.find("**Fix:** use CREATE INDEX CONCURRENTLY"), std::string::npos);
  EXPECT_NE(c.find("lint: ⚠️ 1 warning"), std::string::npos);
  EXPECT_NE(c.find("#### Not known offline"), std::string::npos);
  // The approval command, exactly as a reviewer runs it where the database is.
  EXPECT_NE(c.find("```sh\nschema-upgrade approve -f upgrades/kratos.yaml --name ciam/kratos\n```"), std::string::npos)
      << c;
  EXPECT_EQ(ReadAll(out_ + "/changed-manifests.txt"), "upgrades/kratos.yaml\n");

  // Annotations on the diff, at the new file's line.
  const std::string gh = ReadAll(out_ + "/lint-github.txt");
  EXPECT_EQ(gh,
            "::warning file=kratos/migrations/20240301000004000000_sessions_aal_index.up.sql,line=2,"
            "title=schema-upgrade lint%3A create-index-without-concurrently::index on existing table \"sessions\": "
            "CREATE INDEX without CONCURRENTLY on an existing table blocks writes while the index builds. Safer: use "
            "CREATE INDEX CONCURRENTLY in a file that starts with `-- schema-upgrade: no-transaction`.\n");

  // The SARIF: one result at that file and line, and valid for Microsoft's validator (SARIF2005
  // asks for the tool's informationUri, a public web page this project does not have).
  const std::string sarif_path = out_ + "/lint.sarif";
  auto sarif = web::json::value::parse(ReadAll(sarif_path));
  auto& results = sarif.at("runs").at(0).at("results").as_array();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results.at(0).at("ruleId").as_string(), "create-index-without-concurrently");
  auto& loc = results.at(0).at("locations").at(0).at("physicalLocation");
  EXPECT_EQ(loc.at("artifactLocation").at("uri").as_string(),
            "kratos/migrations/20240301000004000000_sessions_aal_index.up.sql");
  EXPECT_EQ(loc.at("region").at("startLine").as_integer(), 2);
  std::vector<std::string> problems = ValidateSarif(sarif_path, dir_.path());
  for (const auto& p : problems) EXPECT_EQ(p.rfind("SARIF2005 ", 0), 0u) << p;
}

TEST_F(CiRecipeTest, AnErrorFindingFailsTheJobButTheCommentIsStillWritten) {
  std::ofstream(repo_ + "/kratos/migrations/20240301000005000000_concurrent.up.sql")
      << "CREATE INDEX CONCURRENTLY sessions_nid_idx ON sessions (nid);\n";
  Git(repo_, {"add", "-A"});
  Git(repo_, {"commit", "-q", "-m", "more"});
  ProcessResult r = Script({"upgrades"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string c = ReadAll(out_ + "/comment.md");
  EXPECT_NE(c.find("lint: ❌ 1 error, 1 warning"), std::string::npos) << c;
  EXPECT_LT(c.find("❌ **error** `concurrently-in-transaction`"), c.find("⚠️ **warning**")) << "errors first";
  EXPECT_NE(c.find("Lint verdict: **fails** `--fail-on error`"), std::string::npos) << c;
  // --fail-on none lets it pass (the SARIF still carries the error for code scanning).
  EXPECT_EQ(Script({"--fail-on", "none", "upgrades"}).exit_code, 0);
  EXPECT_NE(ReadAll(out_ + "/lint.sarif").find("\"level\": \"error\""), std::string::npos);
}

TEST_F(CiRecipeTest, APrThatChangesNoManifestSaysSoAndStillWritesAReport) {
  Git(repo_, {"checkout", "-q", "main"});
  Git(repo_, {"checkout", "-q", "-b", "docs"});
  std::ofstream(repo_ + "/README.md") << "service config, edited\n";
  Git(repo_, {"commit", "-q", "-am", "docs"});
  ProcessResult r = Script({"upgrades"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(ReadAll(out_ + "/comment.md").find("No SchemaUpgrade manifest changed in this PR."), std::string::npos);
  EXPECT_NE(ReadAll(out_ + "/lint.sarif").find("\"results\": []"), std::string::npos);
}

TEST_F(CiRecipeTest, ABaseGitDoesNotKnowIsBadInputSayingToFetchIt) {
  ProcessResult r = RunProc({"bash", SourceDir() + "/examples/ci/plan-comment.sh", "--base", "origin/main"}, repo_,
                        {{"SCHEMA_UPGRADE", CliBinary()}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("fetch"), std::string::npos) << r.err;
  CliResult p = RunCli({"plan", "--from", "no-such-ref", "-f", repo_ + "/upgrades/kratos.yaml"});
  EXPECT_EQ(p.exit_code, 2) << p.err;
  EXPECT_NE(p.err.find("no-such-ref"), std::string::npos) << p.err;
}

TEST(LintCliTest, FailOnSetsTheExitCodeAndFormatsAreSarifAndGithub) {
  TempDir d;
  std::string warn = d.Write("w/1_idx.up.sql", "CREATE INDEX i ON t (a);\n");
  std::string err = d.Write("e/1_c.up.sql", "CREATE INDEX CONCURRENTLY i ON t (a);\n");
  EXPECT_EQ(RunCli({"lint", warn}).exit_code, 0) << "warnings pass by default (--fail-on error)";
  EXPECT_EQ(RunCli({"lint", "--fail-on", "warning", warn}).exit_code, 1);
  EXPECT_EQ(RunCli({"lint", "--strict", warn}).exit_code, 1);
  EXPECT_EQ(RunCli({"lint", err}).exit_code, 1);
  EXPECT_EQ(RunCli({"lint", "--fail-on", "none", err}).exit_code, 0);
  CliResult bad = RunCli({"lint", "--fail-on", "info", warn});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--fail-on must be error, warning or none"), std::string::npos) << bad.err;
  EXPECT_EQ(RunCli({"lint", "--strict", "--fail-on", "error", warn}).exit_code, 2) << "contradicting flags";
  EXPECT_EQ(RunCli({"lint", "-o", "xml", warn}).exit_code, 2);
  CliResult gh = RunCli({"lint", "-o", "github", "--fail-on", "none", err});
  EXPECT_EQ(gh.out.rfind("::error file=", 0), 0u) << gh.out;
  EXPECT_NE(gh.out.find(",line=1,title=schema-upgrade lint%3A concurrently-in-transaction::"), std::string::npos) << gh.out;
  CliResult none = RunCli({"lint", "-o", "sarif"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("\"results\": []"), std::string::npos);
  EXPECT_EQ(RunCli({"lint"}).exit_code, 2) << "text output still needs a path";
  // missing-lock-timeout is for files other runners run; schema-upgrade sets lock_timeout itself.
  std::string ddl = d.Write("l/1_add.up.sql", "ALTER TABLE t ADD COLUMN c int;\n");
  EXPECT_NE(RunCli({"lint", ddl}).out.find("missing-lock-timeout"), std::string::npos);
  CliResult quiet = RunCli({"lint", "--runner-sets-lock-timeout", ddl});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_NE(quiet.out.find("0 finding(s)"), std::string::npos) << quiet.out;
}

}  // namespace
}  // namespace su::testing
