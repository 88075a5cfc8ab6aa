// policy.approval and policy.dryRun through the CLI binary on a real database: an unapproved plan
// waits (exit 4, AwaitingApproval with the plan hash), `schema-upgrade approve` adds exactly the
// annotation lines to the manifest, the approved plan applies, and a new migration file changes
// the hash so the old approval no longer applies. dryRun (policy or --dry-run) changes nothing.
#include <gtest/gtest.h>

#include <sstream>

#include "reconcilers/base/fs.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "reconcilers/schemaupgrade/status_json.h"
#include "tests/integration/policies/policy_harness.h"
#include "tests/support/cli_runner.h"

namespace su::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

// Lines of `after` that are not in `before`, given that `before` must be a subsequence of
// `after` (nothing removed or changed). *kept is false when a line of `before` went missing.
std::vector<std::string> AddedLines(const std::string& before, const std::string& after, bool* kept) {
  auto b = Lines(before), a = Lines(after);
  std::vector<std::string> added;
  size_t i = 0;
  for (const auto& line : a) {
    if (i < b.size() && line == b[i]) {
      ++i;
    } else {
      added.push_back(line);
    }
  }
  *kept = i == b.size();
  return added;
}

class CliPolicyTest : public ::testing::Test {
 protected:
  CliPolicyTest() : h_("approval") {}

  CliResult Run(std::vector<std::string> args, bool state_dir = true) {
    if (state_dir) {
      args.push_back("--state-dir");
      args.push_back(h_.dir() + "/state");
    }
    // info logs on: more output for the no-secret checks.
    CliResult r = RunCli(args, {{kDsnEnv, h_.dsn()}, {"SU_LOG_LEVEL", "info"}});
    std::string all = "$ schema-upgrade";
    for (const auto& a : args) all += " " + a;
    h_.ExpectNoSecret(r.out, all + " (stdout)");
    h_.ExpectNoSecret(r.err, all + " (stderr)");
    return r;
  }

  ResourceStatus StoredStatus(const std::string& name) {
    auto text = LocalFileSystem()->ReadFile(h_.dir() + "/state/status/policies__" + name + ".json");
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    ResourceStatus st;
    std::string err;
    if (text.ok()) {
      h_.ExpectNoSecret(*text, "the status file");
      EXPECT_TRUE(StatusFromJson(*text, &st, &err)) << err;
    }
    return st;
  }

  void ExpectAwaitingApproval(const ResourceStatus& st) {
    EXPECT_EQ(st.phase, Phase::kWaiting) << st.message;
    const Condition* ready = FindCondition(st, "Ready");
    ASSERT_NE(ready, nullptr);
    EXPECT_EQ(ready->reason, "AwaitingApproval");
    EXPECT_EQ(st.plan_hash.size(), 16u) << st.plan_hash;
    EXPECT_NE(st.message.find(st.plan_hash), std::string::npos) << st.message;
  }

  PolicyHarness h_;
};

TEST_F(CliPolicyTest, ApprovalGatesThePlanAndAChangedPlanNeedsANewApproval) {
  h_.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\n");
  h_.WriteMigration("002", "email", "ALTER TABLE users ADD COLUMN email text;\n");
  const std::string original =
      "# reviewed in PR 42; approve with `schema-upgrade approve -f app.yaml`\n" +
      h_.ManifestYaml("app", "002", "approval:\n  required: true   # a person signs off every plan\n");
  const std::string file = h_.Write("app.yaml", original);

  CliResult r = Run({"apply", "-f", file});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  ResourceStatus st = StoredStatus("app");
  ExpectAwaitingApproval(st);
  const std::string hash = st.plan_hash;
  EXPECT_NE(r.out.find(hash), std::string::npos) << r.out;
  EXPECT_TRUE(h_.History().empty());

  CliResult plan = Run({"plan", "-f", file, "-o", "json"});
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find(hash), std::string::npos) << plan.out;

  r = Run({"approve", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(hash), std::string::npos) << r.out;
  auto approved = LocalFileSystem()->ReadFile(file);
  ASSERT_TRUE(approved.ok());
  bool kept = false;
  auto added = AddedLines(original, *approved, &kept);
  EXPECT_TRUE(kept) << "approve changed or removed existing lines:\n" << *approved;
  ASSERT_FALSE(added.empty());
  EXPECT_LE(added.size(), 2u) << *approved;
  EXPECT_TRUE(added.back() == "    olympus.io/approved-plan-hash: " + hash ||
              added.back() == "    olympus.io/approved-plan-hash: \"" + hash + "\"")
      << *approved;
  if (added.size() == 2) {
    EXPECT_EQ(added.front(), "  annotations:");
  }
  EXPECT_EQ(approved->size(), original.size() + [&] {
    size_t n = 0;
    for (const auto& l : added) n += l.size() + 1;
    return n;
  }()) << "bytes other than the added lines changed";

  r = Run({"apply", "-f", file});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));
  EXPECT_EQ(StoredStatus("app").phase, Phase::kSucceeded);

  // A new migration file: same manifest, same annotation, different plan.
  h_.WriteMigration("003", "index", "CREATE INDEX users_email ON users (email);\n");
  r = Run({"apply", "-f", file});
  EXPECT_EQ(r.exit_code, 4) << "the old approval was used for a changed plan:\n" << r.out << r.err;
  st = StoredStatus("app");
  ExpectAwaitingApproval(st);
  EXPECT_NE(st.plan_hash, hash);
  EXPECT_NE(st.message.find("the approved plan " + hash + " is not the current plan " + st.plan_hash),
            std::string::npos)
      << st.message;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));

  // Approving the new plan lets it through.
  r = Run({"approve", "-f", file, "--hash", st.plan_hash});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Run({"apply", "-f", file});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002", "003"}));
  h_.ExpectNoSecretAnywhere();
}

TEST_F(CliPolicyTest, ApproveRefusesAHashThatIsNotTheCurrentPlan) {
  h_.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\n");
  const std::string original = h_.ManifestYaml("app", "001", "approval:\n  required: true\n");
  const std::string file = h_.Write("app.yaml", original);
  CliResult r = Run({"approve", "-f", file, "--hash", "0000000000000000"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  auto text = LocalFileSystem()->ReadFile(file);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, original);
  EXPECT_TRUE(h_.History().empty());
}

TEST_F(CliPolicyTest, DryRunPolicyAppliesNothingAndExits4) {
  h_.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1);\n");
  const std::string file = h_.Write("app.yaml", h_.ManifestYaml("app", "001", "dryRun: true\n"));
  const std::string before = h_.Dump();
  CliResult r = Run({"apply", "-f", file});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.out.find("dry run"), std::string::npos) << r.out;
  EXPECT_TRUE(h_.History().empty());
  EXPECT_EQ(h_.Dump(), before) << "the dryRun policy changed the database";
  ResourceStatus st = StoredStatus("app");
  EXPECT_EQ(st.phase, Phase::kWaiting);
  const Condition* ready = FindCondition(st, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->reason, "DryRun");
  EXPECT_EQ(st.pending, (std::vector<std::string>{"001"}));
}

TEST_F(CliPolicyTest, ApplyDryRunLeavesTheDatabaseByteIdentical) {
  h_.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1);\n");
  const std::string file = h_.Write("app.yaml", h_.ManifestYaml("app", "002", "backup:\n  enabled: true\n"));
  CliResult r = Run({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  h_.WriteMigration("002", "drop", "DROP TABLE users;\n");
  const std::string schema_before = h_.Dump({"--schema-only"});
  const std::string all_before = h_.Dump();

  r = Run({"apply", "-f", file, "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("002"), std::string::npos) << "the plan should list the pending migration:\n" << r.out;
  EXPECT_NE(r.out.find("dry run, nothing was changed"), std::string::npos) << r.out;
  EXPECT_EQ(h_.Dump({"--schema-only"}), schema_before);
  EXPECT_EQ(h_.Dump(), all_before) << "apply --dry-run wrote to the database";
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001"}));
  EXPECT_EQ(StoredStatus("app").phase, Phase::kSucceeded) << "apply --dry-run must not overwrite the status";

  // The read-only commands print no secret either (Run() checks their output).
  EXPECT_EQ(Run({"status", "-f", file, "-o", "json"}).exit_code, 0);
  EXPECT_EQ(Run({"history", "-f", file}, /*state_dir=*/false).exit_code, 0);
  EXPECT_EQ(Run({"plan", "-f", file, "-o", "markdown"}).exit_code, 0);
}

// ---- what the approval covers, on the reconciler (no CLI) ----

std::string ApprovalPolicy(const std::string& hash, const std::string& extra = "backup:\n  enabled: true\n") {
  return "approval:\n  required: true\n" + (hash.empty() ? "" : "  planHash: \"" + hash + "\"\n") + extra;
}

// The plan hash a pass reports for `policy` (with approval required nothing runs).
std::string PlanHash(PolicyHarness& h, const std::string& policy) {
  Reconciler r(h.Deps());
  auto out = h.Reconcile(r, h.Manifest("app", "latest", ApprovalPolicy("", policy)));
  EXPECT_EQ(out.status.phase, Phase::kWaiting) << out.status.message;
  return out.status.plan_hash;
}

// Time of check vs time of use: a file added to the folder while the approved run takes its backup
// is not applied (nor is anything else of the now different plan); the next pass plans again and
// waits for an approval of the new plan.
TEST(ApprovalCoverage, AFileAddedDuringTheApprovedBackupIsNotApplied) {
  PolicyHarness h("approval_toctou");
  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\n");
  {
    Reconciler r(h.Deps());
    ASSERT_EQ(h.Reconcile(r, h.Manifest("app", "001", "")).status.phase, Phase::kSucceeded);
  }
  h.WriteMigration("002", "email", "ALTER TABLE users ADD COLUMN email text;\n");
  Reconciler gate(h.Deps());
  auto waiting = h.Reconcile(gate, h.Manifest("app", "002", ApprovalPolicy("")));
  ASSERT_EQ(waiting.status.phase, Phase::kWaiting) << waiting.status.message;
  const std::string approved = waiting.status.plan_hash;

  auto sneak = HookedBackupTool([&h] { h.WriteMigration("003", "drop", "DROP TABLE users;\n"); });
  ReconcilerDeps deps = h.Deps();
  deps.backup = sneak.get();
  Reconciler r(deps);
  auto su = h.Manifest("app", "002", ApprovalPolicy(approved));
  auto out = h.Reconcile(r, su);

  ASSERT_TRUE(out.status.backup.has_value()) << "the approved run took its backup";
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001"})) << "the changed plan ran: " << out.status.message;
  EXPECT_EQ(h.Scalar("SELECT to_regclass('users') IS NOT NULL"), "t");
  EXPECT_EQ(out.status.phase, Phase::kWaiting) << out.status.message;
  const Condition* ready = FindCondition(out.status, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->reason, "PlanChanged");
  EXPECT_NE(out.status.message.find("003_drop"), std::string::npos) << out.status.message;

  auto again = h.Reconcile(r, su);
  EXPECT_EQ(again.status.phase, Phase::kWaiting);
  EXPECT_NE(again.status.plan_hash, approved);
  EXPECT_NE(again.status.message.find("is not the current plan"), std::string::npos) << again.status.message;
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001"}));
  h.ExpectNoSecretAnywhere();
}

// Down files (they run under onFailure: runDown), the steps and the policies that shape the run
// are part of the plan hash.
TEST(ApprovalCoverage, DownFilesStepsAndPoliciesAreInTheHash) {
  PolicyHarness h("approval_coverage");
  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\n", "DROP TABLE users;\n");
  const std::string base = PlanHash(h, "backup:\n  enabled: true\nonFailure: runDown\n");
  ASSERT_EQ(base.size(), 16u);
  EXPECT_EQ(PlanHash(h, "backup:\n  enabled: true\nonFailure: runDown\n"), base) << "the hash is not stable";

  EXPECT_NE(PlanHash(h, "backup:\n  enabled: false\nonFailure: runDown\n"), base) << "backup step dropped";
  EXPECT_NE(PlanHash(h, "backup:\n  enabled: true\nonFailure: halt\n"), base) << "onFailure changed";
  EXPECT_NE(PlanHash(h, "backup:\n  enabled: true\nonFailure: runDown\nlockTimeout: 1m\n"), base);
  EXPECT_NE(PlanHash(h, "backup:\n  enabled: true\nonFailure: runDown\nstatementTimeout: 5h\n"), base);

  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\n", "DROP TABLE users CASCADE;\n");
  EXPECT_NE(PlanHash(h, "backup:\n  enabled: true\nonFailure: runDown\n"), base) << "down file edited";
}

// An approval is for one database: the same manifest and files against another database (other
// DSN) is another plan.
TEST(ApprovalCoverage, AnApprovalForOneDatabaseDoesNotApplyToAnother) {
  PolicyHarness staging("approval_staging");
  PolicyHarness production("approval_production");
  for (PolicyHarness* h : {&staging, &production}) {
    h->WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\n");
  }
  const std::string staging_hash = PlanHash(staging, "");
  const std::string production_hash = PlanHash(production, "");
  EXPECT_NE(staging_hash, production_hash);

  Reconciler r(production.Deps());
  auto out = production.Reconcile(r, production.Manifest("app", "001", ApprovalPolicy(staging_hash, "")));
  EXPECT_EQ(out.status.phase, Phase::kWaiting) << out.status.message;
  EXPECT_TRUE(production.History().empty()) << "staging's approval applied to production";

  // The plan names the database it is for.
  ASSERT_TRUE(out.plan.has_value());
  EXPECT_NE(out.plan->database.find("/"), std::string::npos) << out.plan->database;
  EXPECT_EQ(out.plan->database.substr(0, 2) == "?/", false) << "no system identifier: " << out.plan->database;
  EXPECT_NE(RenderPlanText(*out.plan).find(out.plan->database), std::string::npos);
}

// A down file edited after the approved run started never runs: runDown refuses it and says so.
TEST(ApprovalCoverage, ADownFileEditedAfterApprovalIsNotRun) {
  PolicyHarness h("approval_down_edit");
  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1);\n",
                   "DROP TABLE users;\n");
  {
    Reconciler r(h.Deps());
    ASSERT_EQ(h.Reconcile(r, h.Manifest("app", "001", "")).status.phase, Phase::kSucceeded);
  }
  h.WriteMigration("002", "email", "ALTER TABLE users ADD COLUMN email text;\n", "ALTER TABLE users DROP COLUMN email;\n");
  h.WriteMigration("003", "broken", "ALTER TABLE users ADD COLUMN id int;\n", "SELECT 1;\n");
  const std::string policy = "onFailure: runDown\n";
  Reconciler gate(h.Deps());
  auto waiting = h.Reconcile(gate, h.Manifest("app", "003", ApprovalPolicy("", policy)));
  ASSERT_EQ(waiting.status.phase, Phase::kWaiting);

  ReconcilerDeps deps = h.Deps();
  deps.on_progress = [&h](const Progress& p) {
    if (p.event == Progress::Event::kMigrationDone && p.version == "002") {
      h.WriteMigration("002", "email", "ALTER TABLE users ADD COLUMN email text;\n", "DROP TABLE users CASCADE;\n");
    }
  };
  Reconciler r(deps);
  auto out = h.Reconcile(r, h.Manifest("app", "003", ApprovalPolicy(waiting.status.plan_hash, policy)));
  EXPECT_EQ(out.status.phase, Phase::kFailed) << out.status.message;
  EXPECT_EQ(h.Scalar("SELECT count(*) FROM users"), "1") << "the edited down file ran";
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002"}));
  EXPECT_EQ(out.status.current_version, "002");
  EXPECT_NE(out.status.failure_action.find("runDown FAILED"), std::string::npos) << out.status.failure_action;
  EXPECT_NE(out.status.failure_action.find("002_email.down.sql"), std::string::npos) << out.status.failure_action;
}

}  // namespace
}  // namespace su::testing
