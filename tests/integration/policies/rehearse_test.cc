// policy.rehearse on a real server: the pending migrations run on a scratch copy after the gates
// and before the backup; a failing rehearsal stops the upgrade (Failed, RehearsalFailed, naming the
// migration and statement) with the real database untouched; a passing one lets the run go on and
// reports in status and plan; the copy is never left behind. policy.rehearseOn: the copy on a
// second server, whose password reaches no status, event, audit row, log line or error.
#include <gtest/gtest.h>

#include "api/conditions.h"
#include "reconcilers/rehearsal/scratch_database.h"
#include "reconcilers/schemaupgrade/status_json.h"
#include "tests/integration/policies/policy_harness.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

std::string Copies(const PolicyHarness& h) {
  return h.Scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'su\\_rehearse\\_%' AND datname = '" +
                  ScratchDatabaseName("default/app") + "'");
}

TEST(RehearseTest, AFailingRehearsalStopsTheUpgradeBeforeTheRealDatabaseIsTouched) {
  PolicyHarness h("rehearse_fail");
  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1), (2);\n");
  h.WriteMigration("002", "broken", "ALTER TABLE users ADD COLUMN email text;\nALTER TABLE users ADD COLUMN id int;\n");
  Reconciler r(h.Deps());

  auto out = h.Reconcile(r, h.Manifest("app", "002", "rehearse: true\nbackup: {enabled: true}\n"));

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, reasons::kRehearsalFailed);
  EXPECT_NE(out.result.message().find("rehearsal FAILED at migration 002 statement 2"), std::string::npos)
      << out.result.message();
  EXPECT_NE(out.result.message().find("nothing was changed on the real database"), std::string::npos);
  EXPECT_EQ(out.status.phase, Phase::kFailed);
  EXPECT_EQ(out.status.rehearsal.rfind(out.status.plan_hash + ": rehearsal FAILED", 0), 0u) << out.status.rehearsal;
  // Untouched: no history, no table, no backup taken.
  EXPECT_TRUE(h.History().empty());
  EXPECT_EQ(h.Scalar("SELECT to_regclass('users') IS NULL"), "t");
  EXPECT_EQ(h.Scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'schema-upgrade-rehearsal%'"), "0");
  EXPECT_EQ(Copies(h), "0");
  h.ExpectNoSecretAnywhere();
}

TEST(RehearseTest, APassingRehearsalLetsTheUpgradeRunAndReportsInStatusAndPlan) {
  PolicyHarness h("rehearse_ok");
  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1), (2);\n");
  Reconciler r(h.Deps());

  auto out = h.Reconcile(r, h.Manifest("app", "001", "rehearse: true\n"));

  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(h.History(), std::vector<std::string>{"001"});
  EXPECT_NE(out.status.rehearsal.find(": rehearsal ok on a copy"), std::string::npos) << out.status.rehearsal;
  ASSERT_TRUE(out.plan && out.plan->rehearsal);
  EXPECT_TRUE(out.plan->rehearsal->ok);
  EXPECT_EQ(Copies(h), "0");
}

TEST(RehearseTest, WithoutThePolicyNothingIsRehearsed) {
  PolicyHarness h("rehearse_off");
  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\n");
  Reconciler r(h.Deps());
  auto out = h.Reconcile(r, h.Manifest("app", "001", ""));
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(out.status.rehearsal, "");
  ASSERT_TRUE(out.plan.has_value());
  EXPECT_FALSE(out.plan->rehearsal.has_value());
}

TEST(RehearseTest, RehearseOnCopiesOntoTheNamedServerAndItsPasswordAppearsNowhere) {
  static PgServer other;  // the rehearsal server; stopped and deleted at exit
  PolicyHarness h("rehearse_on");
  h.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1), (2);\n");
  h.WriteMigration("002", "broken", "ALTER TABLE users ADD COLUMN email text;\nALTER TABLE users ADD COLUMN id int;\n");
  h.Write("rehearsal.dsn", other.Dsn() + "\n");
  Reconciler r(h.Deps());
  const std::string policy = "rehearse: true\nrehearseOn: {dsnFrom: {file: rehearsal.dsn}}\n";
  std::vector<std::string> texts;

  auto failed = h.Reconcile(r, h.Manifest("app", "002", policy));
  EXPECT_EQ(failed.kind, OutcomeKind::kFailed);
  EXPECT_EQ(failed.reason, reasons::kRehearsalFailed);
  EXPECT_NE(failed.result.message().find("rehearsal FAILED at migration 002 statement 2"), std::string::npos)
      << failed.result.message();
  EXPECT_TRUE(h.History().empty());
  texts.push_back(StatusToJson(failed.status) + failed.result.ToString());

  h.WriteMigration("002", "broken", "ALTER TABLE users ADD COLUMN email text;\n");
  auto ok = h.Reconcile(r, h.Manifest("app", "002", policy), /*force=*/true);
  EXPECT_EQ(ok.kind, OutcomeKind::kSucceeded) << ok.result.ToString();
  EXPECT_EQ(h.History(), (std::vector<std::string>{"001", "002"}));
  EXPECT_NE(ok.status.rehearsal.find(": rehearsal ok on a copy on the rehearsal server (dump-restore, "), std::string::npos)
      << ok.status.rehearsal;
  texts.push_back(StatusToJson(ok.status) + ok.result.ToString());
  EXPECT_EQ(Copies(h), "0");

  // Neither password anywhere: what the harness checks for the source's, and the same for the other's.
  h.ExpectNoSecretAnywhere();
  for (const auto& e : h.events()) texts.push_back(e);
  for (const auto& l : CapturedLogs()) texts.push_back(l);
  for (const auto& a : h.Audit()) texts.push_back(a.error + a.detail + a.failing_statement);
  for (const auto& t : texts) EXPECT_EQ(t.find(other.password()), std::string::npos) << "leaked: " << t;
}

}  // namespace
}  // namespace su::testing
