// The plan as a PR comment (plan_markdown.h): golden files in golden/*.md hold the whole comment
// for the shapes a reviewer meets (a drizzle bump with risky statements, ory migrations inside the
// image, an offline plan, nothing to do). SU_UPDATE_GOLDEN=1 rewrites them after a deliberate change.
#include "reconcilers/schemaupgrade/plan_markdown.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/fakes/fake_engine.h"

namespace su::testing {
namespace {

std::string GoldenPath(const std::string& name) {
  const char* src = std::getenv("SU_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/unit/reconciler/golden/" + name;
}

void ExpectGolden(const std::string& name, const std::string& got) {
  const std::string path = GoldenPath(name);
  if (const char* u = std::getenv("SU_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(path, std::ios::binary) << got;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << path << " is missing (SU_SOURCE_DIR set? SU_UPDATE_GOLDEN=1 writes it)";
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(got, want.str()) << "golden " << path << " differs; if the change is deliberate, rerun with SU_UPDATE_GOLDEN=1";
}

SchemaUpgrade Athena() {
  SchemaUpgrade su;
  su.name = "athena";
  su.namespace_ = "ciam";
  su.service = "athena";
  su.target_version = "v1.1.0";
  su.workload.kind = "ComposeService";
  su.workload.name = "ciam-athena";
  su.migrations.engine = "drizzle";
  su.policy.backup_enabled = true;
  return su;
}

LintFinding Finding(const std::string& file, int line, const std::string& rule, LintSeverity sev,
                    const std::string& message, const std::string& fix, const std::string& statement) {
  LintFinding f;
  f.file = file;
  f.line = line;
  f.rule = rule;
  f.severity = sev;
  f.message = message;
  f.suggestion = fix;
  f.statement = statement;
  return f;
}

EngineState DrizzleBump() {
  EngineState s;
  s.applied = {{"0000", "init", "c0", ""}, {"0001", "users", "c1", ""}};
  s.current_version = "0001";
  PendingMigration a = FakePending("0002", "orders");
  a.file = "athena/drizzle/0002_orders.sql";
  a.statements = {"CREATE TABLE \"orders\" (\n  \"id\" serial PRIMARY KEY,\n  \"user_id\" integer NOT NULL\n);",
                  "\nCREATE INDEX \"orders_user_idx\" ON \"orders\" (\"user_id\");"};
  a.summary = {"CREATE TABLE \"orders\"", "CREATE INDEX \"orders_user_idx\""};
  PendingMigration b = FakePending("0003", "users_email");
  b.file = "athena/drizzle/0003_users_email.sql";
  b.statements = {"ALTER TABLE \"users\" ADD COLUMN \"email\" text;",
                  "ALTER TABLE \"users\" ALTER COLUMN \"email\" SET NOT NULL;"};
  b.summary = {"ALTER TABLE \"users\" ADD COLUMN \"email\"", "ALTER TABLE \"users\" ALTER COLUMN \"email\" SET NOT NULL"};
  b.findings = {Finding(b.file, 2, "set-not-null", LintSeverity::kWarning,
                        "ALTER COLUMN ... SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
                        "first ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT c",
                        "ALTER TABLE \"users\" ALTER COLUMN \"email\" SET NOT NULL")};
  PendingMigration c = FakePending("0004", "empty");
  c.file = "athena/drizzle/0004_empty.sql";
  c.statements = StatementList();
  c.summary.clear();
  s.pending = {a, b, c};
  // The error is on the first migration, listed after the warning in pending order: the comment
  // must still show it first.
  s.pending[0].findings = {Finding(a.file, 6, "concurrently-in-transaction", LintSeverity::kError,
                                   "CREATE INDEX CONCURRENTLY fails inside a transaction",
                                   "move the statement to its own file that starts with `-- schema-upgrade: no-transaction`",
                                   "CREATE INDEX CONCURRENTLY \"orders_user_idx\"")};
  s.latest_version = "0004";
  return s;
}

TEST(PlanCommentTest, DrizzleBumpWithRiskyStatementsGolden) {
  Plan p = BuildPlan(Athena(), DrizzleBump(), "localhost/olympus/athena:v1.0.0", "localhost/olympus/athena:v1.1.0",
                     "7312345678901234567/athena");
  PlanCommentOptions o;
  o.manifest = "upgrades/athena.yaml";
  std::string m = RenderPlanComment(p, o);
  ExpectGolden("plan_drizzle_bump.md", m);
  // What the golden must hold, said plainly (a regenerated golden cannot drop these silently):
  EXPECT_NE(m.find("**`ciam/athena`: database at `0001`, target `v1.1.0`, 3 drizzle migrations, image "
                   "`localhost/olympus/athena:v1.0.0` → `localhost/olympus/athena:v1.1.0`; lint: ❌ 1 error, 1 warning**"),
            std::string::npos);
  EXPECT_LT(m.find("concurrently-in-transaction"), m.find("set-not-null")) << "errors first";
  EXPECT_LT(m.find("#### Risky statements"), m.find("#### Migrations")) << "risky statements before migrations";
  EXPECT_NE(m.find("  \"user_id\" integer NOT NULL\n);\nCREATE INDEX"), std::string::npos) << "full statements";
  EXPECT_NE(m.find("schema-upgrade approve -f upgrades/athena.yaml --name ciam/athena --hash " + p.hash), std::string::npos);
}

TEST(PlanCommentTest, OryMigrationsSayWhereTheirStatementsLiveGolden) {
  SchemaUpgrade su = Athena();
  su.name = su.service = "kratos";
  su.workload.name = "ciam-kratos";
  su.target_version = "v1.2.0";
  su.migrations.engine = "ory";
  EngineState s;
  s.current_version = "20240101000004000000";
  for (auto [v, n] : {std::pair{"20240301000001000000", "identity_verifiable_addresses"},
                      std::pair{"20240301000002000000", "sessions_add_aal"}}) {
    PendingMigration m;
    m.version = v;
    m.name = n;
    s.pending.push_back(m);
  }
  Plan p = BuildPlan(su, s, "localhost/oryd/kratos:v1.1.0", "localhost/oryd/kratos:v1.2.0", "7312345678901234567/kratos");
  PlanCommentOptions o;
  o.manifest = "upgrades/kratos.yaml";
  std::string m = RenderPlanComment(p, o);
  ExpectGolden("plan_ory_bump.md", m);
  EXPECT_EQ(m.find("0 statements"), std::string::npos);
  EXPECT_NE(m.find("the statements live inside the image `localhost/oryd/kratos:v1.2.0`"), std::string::npos);
}

TEST(PlanCommentTest, OfflinePlanSaysWhatItCannotKnowAndHowToApproveGolden) {
  EngineState s = DrizzleBump();
  s.pending.resize(1);
  s.pending[0].findings.clear();
  s.applied.clear();  // offline: nothing is known to be applied; current_version = newest of the old source
  PlanCommentOptions o;
  o.manifest = "upgrades/athena.yaml";
  o.offline = true;
  o.from_version = "v1.0.0";
  o.from_label = "origin/main";
  o.offline_unknowns = {"drift: whether applied files were edited since they ran",
                        "migrations applied out of order, or by hand"};
  Plan p = BuildPlan(Athena(), s, "localhost/olympus/athena:v1.0.0", "localhost/olympus/athena:v1.1.0");
  std::string m = RenderPlanComment(p, o);
  ExpectGolden("plan_offline.md", m);
  EXPECT_NE(m.find("`ciam/athena`: `v1.0.0` → `v1.1.0`, 1 drizzle migration"), std::string::npos);
  EXPECT_NE(m.find("#### Not known offline"), std::string::npos);
  EXPECT_EQ(m.find(p.hash), std::string::npos) << "an offline hash is not the one approve computes";
  EXPECT_NE(m.find("schema-upgrade approve -f upgrades/athena.yaml --name ciam/athena\n"), std::string::npos);
}

TEST(PlanCommentTest, UpToDateGolden) {
  EngineState s;
  s.current_version = "0004";
  Plan p = BuildPlan(Athena(), s, "localhost/olympus/athena:v1.1.0", "localhost/olympus/athena:v1.1.0");
  std::string m = RenderPlanComment(p, {});
  ExpectGolden("plan_up_to_date.md", m);
  EXPECT_NE(m.find("no migrations; lint: ✅ no findings; nothing to do"), std::string::npos);
  EXPECT_EQ(m.find("#### Approve"), std::string::npos);
}

}  // namespace
}  // namespace su::testing
