// The version-bump PR path as CI runs it: a git repository the test creates holds a SchemaUpgrade
// at v1.1.0 (sql engine, Kratos-like popx folder); a second commit raises it to v1.2.0 and adds
// the new migrations. examples/ci/plan-comment.sh must produce a comment listing exactly the new
// migrations with their statements and lint findings and the approval command, and a SARIF file
// that Microsoft's SARIF Multitool validates. Also the CLI pieces the recipe relies on: `lint -o
// sarif|github`, `--fail-on` exit codes, `plan --from` errors.
#include <gtest/gtest.h>

#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>

#include <yaml-cpp/yaml.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "reconcilers/base/process.h"
#include "tests/support/bg_process.h"
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
  CliResult c = RunCli({"plan", "--from", "main", "--state-dir", dir_.path(), "-f", repo_ + "/upgrades/kratos.yaml"});
  EXPECT_EQ(c.exit_code, 2) << c.err;
  EXPECT_NE(c.err.find("--from and --state-dir contradict"), std::string::npos) << c.err;
}

// `plan --from -o json` and the text output say it is offline; the JSON carries no hash to approve.
TEST_F(CiRecipeTest, OfflineJsonAndTextSayWhatIsNotKnown) {
  ProcessResult j = RunProc({CliBinary(), "plan", "--from", "main", "-f", "upgrades/kratos.yaml", "-o", "json"}, repo_);
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto v = web::json::value::parse(j.out);
  ASSERT_TRUE(v.is_array());
  auto& p = v.at(0);
  EXPECT_EQ(p.at("hash").as_string(), "");
  EXPECT_EQ(p.at("offline").at("from").as_string(), "main");
  EXPECT_EQ(p.at("offline").at("fromVersion").as_string(), "v1.1.0");
  EXPECT_FALSE(p.at("offline").at("notKnown").as_array().size() == 0);
  EXPECT_EQ(p.at("pending").size(), 4u);
  ProcessResult t = RunProc({CliBinary(), "plan", "--from", "main", "-f", "upgrades/kratos.yaml"}, repo_);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(t.out.rfind("Offline plan: from v1.1.0 (main) to v1.2.0, computed without the database\n", 0), 0u) << t.out;
  EXPECT_NE(t.out.find("plan hash: not known offline"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("  + 20240301000004000000 sessions_aal_index"), std::string::npos) << t.out;
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

// ---- post-comment.sh: one comment per PR, created once and then updated ----

class PostCommentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string log = dir_.Path("forge.log");
    ASSERT_TRUE(forge_.Start({"python3", SourceDir() + "/tests/integration/ci/fake_forge.py"}, {}, log));
    // The ready line is the condition; the deadline only bounds a broken start on a loaded machine.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string out = ReadAll(log);
      auto at = out.find("fake-forge ready port=");
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        api_ = "http://127.0.0.1:" + std::to_string(std::atoi(out.c_str() + at + std::strlen("fake-forge ready port=")));
        return;
      }
      if (auto end = forge_.Poll()) FAIL() << "fake_forge.py exited: " << end->Describe() << "\n" << out;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "fake_forge.py printed no ready line";
  }

  std::string Body(const std::string& text) {
    return dir_.Write("comment-" + std::to_string(++bodies_) + ".md", "<!-- schema-upgrade-plan -->\n" + text);
  }

  ProcessResult Post(const std::vector<std::string>& args, const std::string& token = "secret-token") {
    std::vector<std::string> argv = {"bash", SourceDir() + "/examples/ci/post-comment.sh"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--api", api_});
    return RunProc(argv, dir_.path(), {{"GITHUB_TOKEN", token}, {"GITLAB_TOKEN", token}});
  }

  web::json::value Dump() {
    ProcessResult r = RunProc({"curl", "-sS", api_ + "/_dump"}, dir_.path());
    return web::json::value::parse(r.out);
  }

  void Seed(const std::string& kind, const std::string& thread, int n, const std::string& extra = "") {
    web::json::value b = web::json::value::object();
    b["kind"] = web::json::value::string(kind);
    b["thread"] = web::json::value::string(thread);
    web::json::value bodies = web::json::value::array();
    for (int i = 0; i < n; ++i) bodies[i] = web::json::value::string("looks good " + std::to_string(i));
    if (!extra.empty()) bodies[n] = web::json::value::string(extra);
    b["bodies"] = bodies;
    std::string f = dir_.Write("seed.json", b.serialize());
    ProcessResult r = RunProc({"curl", "-sS", "-X", "POST", "--data-binary", "@" + f, api_ + "/_seed"}, dir_.path());
    ASSERT_TRUE(r.Succeeded()) << r.Tail(3);
  }

  TempDir dir_;
  BackgroundProcess forge_;
  std::string api_;
  int bodies_ = 0;
};

TEST_F(PostCommentTest, GithubCreatesOneCommentThenUpdatesItPastTheFirstPage) {
  // 150 comments from people (two pages of 100), one of them quoting our marker mid-text.
  Seed("github", "olympus/ciam#7", 150, "> quoting: <!-- schema-upgrade-plan -->");
  ProcessResult first = Post({"github", "--repo", "olympus/ciam", "--pr", "7", "--body", Body("plan v1")});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(first.out.rfind("created ", 0), 0u) << first.out;
  const std::string id = first.out.substr(8, first.out.size() - 9);
  ProcessResult second = Post({"github", "--repo", "olympus/ciam", "--pr", "7", "--body", Body("plan v2")});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, "updated " + id + "\n");
  auto d = Dump();
  auto& t = d.at("threads").at("github:olympus/ciam#7").as_array();
  ASSERT_EQ(t.size(), 152u) << "one comment of ours, however often CI runs";
  int ours = 0;
  for (auto& c : t) {
    if (c.at("body").as_string().rfind("<!-- schema-upgrade-plan -->", 0) == 0) {
      ++ours;
      EXPECT_EQ(c.at("body").as_string(), "<!-- schema-upgrade-plan -->\nplan v2");
      EXPECT_EQ(std::to_string(c.at("id").as_integer()), id);
    }
  }
  EXPECT_EQ(ours, 1);
}

TEST_F(PostCommentTest, GitlabCreatesOneNoteThenUpdatesIt) {
  ProcessResult first = Post({"gitlab", "--project", "42", "--mr", "3", "--body", Body("plan v1")});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out.rfind("created ", 0), 0u) << first.out;
  ProcessResult second = Post({"gitlab", "--project", "42", "--mr", "3", "--body", Body("plan v2")});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out.rfind("updated ", 0), 0u) << second.out;
  auto d = Dump();
  auto& t = d.at("threads").at("gitlab:42#3").as_array();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t.at(0).at("body").as_string(), "<!-- schema-upgrade-plan -->\nplan v2");
  bool put = false;
  for (auto& l : d.at("log").as_array()) put = put || l.as_string() == "PUT /projects/42/merge_requests/3/notes/" +
                                                                       std::to_string(t.at(0).at("id").as_integer());
  EXPECT_TRUE(put);
}

TEST_F(PostCommentTest, ARefusedTokenFailsWithoutEchoingItAndABodyWithoutTheMarkerIsBadInput) {
  ProcessResult bad = Post({"github", "--repo", "o/r", "--pr", "1", "--body", Body("x")}, "wrong-token-value");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("answered 401"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.err.find("wrong-token-value"), std::string::npos) << bad.err;
  std::string plain = dir_.Write("plain.md", "no marker\n");
  EXPECT_EQ(Post({"github", "--repo", "o/r", "--pr", "1", "--body", plain}).exit_code, 2);
  EXPECT_EQ(Post({"bitbucket", "--body", Body("x")}).exit_code, 2);
}

// The recipes call the scripts that exist, with flags they know.
TEST(CiRecipeFilesTest, WorkflowsParseAndCallTheShippedScripts) {
  for (const char* f : {"github-actions.yml", "gitlab-ci.yml"}) {
    const std::string path = SourceDir() + "/examples/ci/" + f;
    ASSERT_NO_THROW(YAML::LoadFile(path)) << path;
    const std::string text = ReadAll(path);
    for (const char* script : {"examples/ci/plan-comment.sh --base", "examples/ci/post-comment.sh "}) {
      EXPECT_NE(text.find(script), std::string::npos) << f << " does not call " << script;
    }
  }
  EXPECT_TRUE(stdfs::exists(SourceDir() + "/examples/ci/plan-comment.sh"));
  EXPECT_TRUE(stdfs::exists(SourceDir() + "/examples/ci/post-comment.sh"));
}

}  // namespace
}  // namespace su::testing
