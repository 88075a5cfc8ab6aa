// Plan building (steps, hash), target image derivation, and the text/markdown/JSON renderings;
// also the reconciler's pure helpers BackoffFor and SameImage.
#include <gtest/gtest.h>

// cpprest's U() macro collides with gtest's template parameters.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>

#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "reconcilers/schemaupgrade/reconciler.h"
#include "tests/support/fakes/fake_engine.h"

namespace su::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kNewImageForSameImage = "localhost/oryd/kratos:v1.2.0";

SchemaUpgrade Spec() {
  SchemaUpgrade su;
  su.name = "athena";
  su.namespace_ = "apps";
  su.service = "athena";
  su.target_version = "v2";
  su.workload.kind = "ComposeService";
  su.workload.name = "athena-api";
  su.migrations.engine = "drizzle";
  return su;
}

EngineState State() {
  EngineState s;
  s.applied = {{"0000", "init", "c0", "2025-01-01T00:00:00Z"}};
  s.current_version = "0000";
  s.pending = {FakePending("0001", "users"), FakePending("0002", "orders")};
  s.pending[1].summary = {"CREATE TABLE orders", "CREATE INDEX orders_user_idx"};
  s.latest_version = "0002";
  return s;
}

LintFinding ErrorFinding() {
  LintFinding f;
  f.file = "migrations/0002_orders.sql";
  f.line = 7;
  f.rule = "create-index-without-concurrently";
  f.severity = LintSeverity::kError;
  f.message = "CREATE INDEX blocks writes to orders";
  f.suggestion = "use CREATE INDEX CONCURRENTLY in a no-transaction file";
  f.statement = "CREATE INDEX orders_user_idx";
  return f;
}

TEST(TargetImageTest, DerivesRepositoryPlusTargetVersion) {
  SchemaUpgrade su = Spec();
  EXPECT_EQ(TargetImage(su, "localhost/oryd/kratos:v1.1.0"), "localhost/oryd/kratos:v2");
  EXPECT_EQ(TargetImage(su, "oryd/kratos"), "oryd/kratos:v2");
  EXPECT_EQ(TargetImage(su, "registry:5000/x/y:1"), "registry:5000/x/y:v2");
  EXPECT_EQ(TargetImage(su, "registry:5000/x/y"), "registry:5000/x/y:v2");
  EXPECT_EQ(TargetImage(su, "x/y@sha256:0123abcd"), "x/y:v2");
  EXPECT_EQ(TargetImage(su, "registry:5000/x/y:1@sha256:0123abcd"), "registry:5000/x/y:v2");
  EXPECT_EQ(TargetImage(su, "postgres:16"), "postgres:v2");
  EXPECT_EQ(TargetImage(su, ""), "");
  su.image = "ghcr.io/acme/athena:2.0.0";
  EXPECT_EQ(TargetImage(su, "whatever:1"), "ghcr.io/acme/athena:2.0.0");
  EXPECT_EQ(TargetImage(su, ""), "ghcr.io/acme/athena:2.0.0");
}

TEST(BuildPlanTest, StepsInOrderBackupMigrateBumpVerify) {
  SchemaUpgrade su = Spec();
  su.policy.backup_enabled = true;
  Plan p = BuildPlan(su, State(), "athena:v1", "athena:v2");
  ASSERT_EQ(p.steps.size(), 4u);
  EXPECT_EQ(p.steps[0].kind, "backup");
  EXPECT_EQ(p.steps[1].kind, "migrate");
  EXPECT_NE(p.steps[1].description.find("2 drizzle migration(s) 0001 .. 0002"), std::string::npos)
      << p.steps[1].description;
  EXPECT_EQ(p.steps[2].kind, "bump");
  EXPECT_NE(p.steps[2].description.find("athena:v1 to athena:v2"), std::string::npos);
  EXPECT_EQ(p.steps[3].kind, "verify");
  EXPECT_FALSE(p.UpToDate());
  EXPECT_EQ(p.resource, "apps/athena");
  EXPECT_EQ(p.db_version, "0000");
  EXPECT_EQ(p.hash.size(), 16u);
  EXPECT_EQ(p.hash.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(BuildPlanTest, NothingPendingAndSameImageIsUpToDate) {
  EngineState s = State();
  s.pending.clear();
  Plan p = BuildPlan(Spec(), s, "athena:v2", "athena:v2");
  EXPECT_TRUE(p.UpToDate());
  Plan no_workload = BuildPlan(Spec(), s, "", "");
  EXPECT_TRUE(no_workload.UpToDate());
}

TEST(BuildPlanTest, FindingsOfPendingMigrationsAreCollected) {
  EngineState s = State();
  s.pending[1].findings = {ErrorFinding()};
  LintFinding w = ErrorFinding();
  w.severity = LintSeverity::kWarning;
  s.pending[0].findings = {w};
  Plan p = BuildPlan(Spec(), s, "athena:v1", "athena:v2");
  EXPECT_EQ(p.findings.size(), 2u);
  EXPECT_EQ(p.LintErrors(), 1);
}

TEST(BuildPlanTest, DriftAcceptance) {
  EngineState s = State();
  s.drift = {{"0000", "init", "0000_init.sql", "aaa", "bbb", true}};
  EXPECT_FALSE(BuildPlan(Spec(), s, "", "").HasUnacceptedDrift());
  s.drift.push_back({"0001", "users", "0001_users.sql", "ccc", "ddd", false});
  EXPECT_TRUE(BuildPlan(Spec(), s, "", "").HasUnacceptedDrift());
}

TEST(PlanHashTest, StableForTheSameInputAndChangesWithTheContent) {
  SchemaUpgrade su = Spec();
  std::string h = BuildPlan(su, State(), "athena:v1", "athena:v2").hash;
  EXPECT_EQ(BuildPlan(su, State(), "athena:v1", "athena:v2").hash, h);
  // Things that are not the change itself do not move the hash.
  SchemaUpgrade relabelled = su;
  relabelled.annotations["note"] = "x";
  relabelled.policy.approved_plan_hash = h;
  EXPECT_EQ(BuildPlan(relabelled, State(), "athena:v1", "athena:v2").hash, h);

  EngineState edited = State();
  edited.pending[1].checksum = "sum-0002-edited";
  EXPECT_NE(BuildPlan(su, edited, "athena:v1", "athena:v2").hash, h);
  EngineState more = State();
  more.pending.push_back(FakePending("0003", "refunds"));
  EXPECT_NE(BuildPlan(su, more, "athena:v1", "athena:v2").hash, h);
  EXPECT_NE(BuildPlan(su, State(), "athena:v1", "athena:v2-hotfix").hash, h);
  SchemaUpgrade other = su;
  other.target_version = "v3";
  EXPECT_NE(BuildPlan(other, State(), "athena:v1", "athena:v2").hash, h);
  EngineState drift = State();
  drift.drift = {{"0000", "init", "0000_init.sql", "aaa", "bbb", true}};
  EXPECT_NE(BuildPlan(su, drift, "athena:v1", "athena:v2").hash, h);
}

// Everything that shapes what the run does, and the database it is for, is in the hash.
TEST(PlanHashTest, CoversDownFilesPoliciesStepsAndTheDatabase) {
  SchemaUpgrade su = Spec();
  su.policy.backup_enabled = true;
  const std::string db = "7312345678901234567/athena";
  std::string h = BuildPlan(su, State(), "athena:v1", "athena:v2", db).hash;
  EXPECT_EQ(BuildPlan(su, State(), "athena:v1", "athena:v2", db).hash, h);

  EXPECT_NE(BuildPlan(su, State(), "athena:v1", "athena:v2", "7312345678901234567/athena_prod").hash, h);
  EXPECT_NE(BuildPlan(su, State(), "athena:v1", "athena:v2", "6000000000000000000/athena").hash, h);
  EngineState moved = State();
  moved.current_version = "0001x";
  EXPECT_NE(BuildPlan(su, moved, "athena:v1", "athena:v2", db).hash, h) << "observed version";

  EngineState down = State();
  down.pending[0].down_checksum = "edited-down";
  EXPECT_NE(BuildPlan(su, down, "athena:v1", "athena:v2", db).hash, h) << "down file";

  auto changed = [&](auto edit) {
    SchemaUpgrade x = su;
    edit(x.policy);
    return BuildPlan(x, State(), "athena:v1", "athena:v2", db).hash;
  };
  EXPECT_NE(changed([](PolicySpec& p) { p.backup_enabled = false; }), h) << "backup step";
  EXPECT_NE(changed([](PolicySpec& p) { p.on_failure = OnFailure::kRunDown; }), h);
  EXPECT_NE(changed([](PolicySpec& p) { p.lock_timeout = seconds(60); }), h);
  EXPECT_NE(changed([](PolicySpec& p) { p.statement_timeout = seconds(60); }), h);
  EXPECT_NE(changed([](PolicySpec& p) { p.blocked_session_limit = seconds(3); }), h);
  EXPECT_NE(changed([](PolicySpec& p) { p.restore_allow_data_loss = true; }), h) << "restore over writes";
  EXPECT_NE(changed([](PolicySpec& p) { p.allow_downgrade = true; }), h) << "downgrade allowed";
  // Gates do not change what runs.
  EXPECT_EQ(changed([](PolicySpec& p) { p.window = MaintenanceWindow{"02:00", "04:00", "UTC", {}}; }), h);
  EXPECT_EQ(changed([](PolicySpec& p) { p.approval_required = true; }), h);

  Plan p = BuildPlan(su, State(), "athena:v1", "athena:v2", db);
  EXPECT_EQ(p.database, db);
  EXPECT_NE(RenderPlanText(p).find(db), std::string::npos);
  EXPECT_NE(RenderPlanJson(p).find(db), std::string::npos);
}

Plan RichPlan() {
  EngineState s = State();
  s.pending[1].findings = {ErrorFinding()};
  s.pending[1].no_transaction = true;
  s.drift = {{"0000", "init", "0000_init.sql", "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", false}};
  s.unknown = {"9999"};
  s.notes = {"index orders_user_idx is INVALID"};
  return BuildPlan(Spec(), s, "athena:v1", "athena:v2");
}

TEST(RenderPlanTest, TextNamesVersionsImagesFindingsDriftAndSteps) {
  Plan p = RichPlan();
  std::string t = RenderPlanText(p);
  for (const char* want : {"apps/athena", "database version: 0000", "target version:   v2", "athena:v1 -> athena:v2",
                           "+ 0001 users", "+ 0002 orders  [no-transaction]", "CREATE INDEX orders_user_idx",
                           "Drift: 1", "! 0000 init", "refused", "9999", "INVALID",
                           "migrations/0002_orders.sql:7: error [create-index-without-concurrently]",
                           "1. migrate", "bump", "verify"}) {
    EXPECT_NE(t.find(want), std::string::npos) << "missing \"" << want << "\" in:\n" << t;
  }
  EXPECT_NE(t.find(p.hash), std::string::npos);
  EngineState none = State();
  none.pending.clear();
  EXPECT_NE(RenderPlanText(BuildPlan(Spec(), none, "", "")).find("(none: up to date)"), std::string::npos);
}

TEST(RenderPlanTest, MarkdownNamesVersionsFindingsAndDrift) {
  Plan p = RichPlan();
  std::string m = RenderPlanMarkdown(p);
  for (const char* want : {"`apps/athena`", "| Database version | `0000` |", "| Target version | `v2` |",
                           "#### Migrations (2)", "<code>0001</code> users", "no transaction (CONCURRENTLY)",
                           "Drift", "`0000` init", "apply will refuse", "#### Risky statements (1)",
                           "`0002_orders.sql:7`", "create-index-without-concurrently", "**migrate**"}) {
    EXPECT_NE(m.find(want), std::string::npos) << "missing \"" << want << "\" in:\n" << m;
  }
  EXPECT_NE(m.find(p.hash), std::string::npos);
}

TEST(RenderPlanTest, MarkdownShowsWholeStatementsAndWhereOryStatementsLive) {
  EngineState st = State();
  st.pending[1].statements = {"CREATE TABLE orders (\n  id int PRIMARY KEY,\n  note text DEFAULT '```'\n);",
                              "CREATE INDEX orders_user_idx\n  ON orders (id);"};
  std::string m = RenderPlanMarkdown(BuildPlan(Spec(), st, "athena:v1", "athena:v2"));
  // Every line of every statement, not the first line only.
  for (const char* want : {"  id int PRIMARY KEY,\n  note text DEFAULT '```'\n);\n", "  ON orders (id);\n"}) {
    EXPECT_NE(m.find(want), std::string::npos) << "missing \"" << want << "\" in:\n" << m;
  }
  // The fence is longer than the backticks inside, so the statement cannot close it.
  EXPECT_NE(m.find("````sql\n"), std::string::npos) << m;

  EngineState ory;
  PendingMigration p;
  p.version = "20240101000000000000";
  p.name = "identities";
  ory.pending = {p};
  SchemaUpgrade su = Spec();
  su.migrations.engine = "ory";
  std::string o = RenderPlanMarkdown(BuildPlan(su, ory, "oryd/kratos:v1.1.0", "oryd/kratos:v1.2.0"));
  EXPECT_NE(o.find("- `20240101000000000000` identities: the statements live inside the image"), std::string::npos)
      << o;
  EXPECT_NE(o.find("the statements live inside the image `oryd/kratos:v1.2.0` and its own migrator runs them"),
            std::string::npos)
      << o;
  EXPECT_EQ(o.find("0 statements"), std::string::npos) << "no \"0 statements\" for ory:\n" << o;
  EXPECT_EQ(o.find("no statements"), std::string::npos) << "no \"no statements\" for ory:\n" << o;
  EXPECT_EQ(o.find("```sql\n```"), std::string::npos) << "no empty code block:\n" << o;
}

TEST(RenderPlanTest, JsonParsesAndCarriesEveryPart) {
  Plan p = RichPlan();
  web::json::value v;
  ASSERT_NO_THROW(v = web::json::value::parse(RenderPlanJson(p)));
  EXPECT_EQ(v.at("resource").as_string(), "apps/athena");
  EXPECT_EQ(v.at("hash").as_string(), p.hash);
  EXPECT_EQ(v.at("targetVersion").as_string(), "v2");
  EXPECT_EQ(v.at("databaseVersion").as_string(), "0000");
  EXPECT_EQ(v.at("currentImage").as_string(), "athena:v1");
  EXPECT_EQ(v.at("targetImage").as_string(), "athena:v2");
  EXPECT_FALSE(v.at("upToDate").as_bool());
  ASSERT_EQ(v.at("pending").size(), 2u);
  EXPECT_EQ(v.at("pending").at(1).at("version").as_string(), "0002");
  EXPECT_FALSE(v.at("pending").at(1).at("transaction").as_bool());
  EXPECT_EQ(v.at("pending").at(1).at("statements").size(), 2u);
  ASSERT_EQ(v.at("drift").size(), 1u);
  EXPECT_FALSE(v.at("drift").at(0).at("accepted").as_bool());
  EXPECT_EQ(v.at("findings").at(0).at("severity").as_string(), "error");
  EXPECT_EQ(v.at("findings").at(0).at("line").as_integer(), 7);
  EXPECT_EQ(v.at("unknown").at(0).as_string(), "9999");
  EXPECT_EQ(v.at("applied").at(0).at("checksum").as_string(), "c0");
  ASSERT_EQ(v.at("steps").size(), 3u);
  EXPECT_EQ(v.at("steps").at(0).at("kind").as_string(), "migrate");
}

// docs/backfill.md "In the plan": each pending backfill is a structured object in JSON (file,
// table, key, batch settings, row estimate, the interrupted run's resume key) and a row of the
// markdown's Backfills table; its text note stays; none of it moves the plan hash.
TEST(RenderPlanTest, PendingBackfillsAreObjectsInJsonAndRowsInMarkdown) {
  EngineState s = State();
  PendingBackfill fill;
  fill.version = "0001";
  fill.file = "migrations/0001_users.sql";
  fill.table = "public.users";
  fill.key = "id";
  fill.batch = 1000;
  fill.min_batch = 10;
  fill.max_batch = 100000;
  fill.batch_time_ms = 100;
  fill.pause_ms = 10;
  fill.max_lag_ms = 10000;
  fill.rows_estimate = 5000000;
  fill.interrupted = true;
  fill.rows_done = 2000;
  fill.batches = 2;
  fill.resume_after = "2000";
  PendingBackfill fresh;
  fresh.version = "0002";
  fresh.file = "migrations/0002_orders.sql";
  fresh.table = "orders";
  fresh.key = "order_id";
  fresh.batch = 500;
  fresh.min_batch = 500;
  fresh.max_batch = 500;
  fresh.adaptive = false;
  fresh.pause_ms = 20;
  fresh.table_exists = false;
  s.backfills = {fill, fresh};
  s.notes = {"migration 0001_users is a backfill of public.users by id in batches of 1000 (adaptive), ..."};
  Plan p = BuildPlan(Spec(), s, "athena:v1", "athena:v2");
  EXPECT_EQ(p.hash, BuildPlan(Spec(), State(), "athena:v1", "athena:v2").hash) << "progress is not in the hash";

  web::json::value v;
  ASSERT_NO_THROW(v = web::json::value::parse(RenderPlanJson(p)));
  ASSERT_EQ(v.at("backfills").size(), 2u);
  const auto& a = v.at("backfills").at(0);
  EXPECT_EQ(a.at("version").as_string(), "0001");
  EXPECT_EQ(a.at("file").as_string(), "migrations/0001_users.sql");
  EXPECT_EQ(a.at("table").as_string(), "public.users");
  EXPECT_EQ(a.at("key").as_string(), "id");
  EXPECT_EQ(a.at("batch").at("size").as_integer(), 1000);
  EXPECT_EQ(a.at("batch").at("min").as_integer(), 10);
  EXPECT_EQ(a.at("batch").at("max").as_integer(), 100000);
  EXPECT_TRUE(a.at("batch").at("adaptive").as_bool());
  EXPECT_EQ(a.at("batch").at("timeMs").as_integer(), 100);
  EXPECT_EQ(a.at("batch").at("pauseMs").as_integer(), 10);
  EXPECT_EQ(a.at("batch").at("maxLagMs").as_integer(), 10000);
  EXPECT_TRUE(a.at("tableExists").as_bool());
  EXPECT_EQ(a.at("rowsEstimate").as_number().to_int64(), 5000000);
  EXPECT_EQ(a.at("interrupted").at("rowsDone").as_integer(), 2000);
  EXPECT_EQ(a.at("interrupted").at("batches").as_integer(), 2);
  EXPECT_EQ(a.at("interrupted").at("resumeAfter").as_string(), "2000");
  const auto& b = v.at("backfills").at(1);
  EXPECT_FALSE(b.at("batch").at("adaptive").as_bool());
  EXPECT_FALSE(b.at("tableExists").as_bool());
  EXPECT_TRUE(b.at("rowsEstimate").is_null());
  EXPECT_TRUE(b.at("interrupted").is_null());
  EXPECT_EQ(v.at("notes").at(0).as_string(), s.notes[0]) << "the note stays";
  EXPECT_EQ(web::json::value::parse(RenderPlanJson(BuildPlan(Spec(), State(), "athena:v1", "athena:v2")))
                .at("backfills")
                .size(),
            0u);

  const std::string md = RenderPlanMarkdown(p);
  EXPECT_NE(md.find("#### Backfills\n\n| migration | table | key | batches | rows (estimate) | interrupted run |\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `0001` | `public.users` | `id` | 1000 (adaptive 10..100000, 100 ms each), 10 ms pause | "
                    "~5000000 | 2000 rows in 2 batches; resumes after key `2000` |\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `0002` | `orders` | `order_id` | 500 (fixed), 20 ms pause | new table (created by this plan) | "
                    "- |\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("> **Note:** migration 0001_users is a backfill"), std::string::npos) << md;
  EXPECT_EQ(RenderPlanMarkdown(BuildPlan(Spec(), State(), "athena:v1", "athena:v2")).find("Backfills"),
            std::string::npos);
  EXPECT_NE(RenderPlanText(p).find("Note: migration 0001_users is a backfill"), std::string::npos);
}

// A target older than the database: the plan calls it a downgrade in every rendering and refuses
// it unless policy.allowDowngrade; without a bump or migration there is nothing to refuse.
TEST(BuildPlanTest, ADatabaseAheadOfTheTargetIsADowngradeRefusedUnlessAllowed) {
  SchemaUpgrade su = Spec();
  EngineState s = State();
  s.pending.clear();
  s.unknown = s.ahead = {"0003", "0004"};
  Plan p = BuildPlan(su, s, "athena:v5", "athena:v2");
  EXPECT_TRUE(p.downgrade);
  EXPECT_NE(p.refused.find("downgrade refused"), std::string::npos) << p.refused;
  EXPECT_NE(p.refused.find("0003, 0004"), std::string::npos) << p.refused;
  EXPECT_NE(p.refused.find("its newest is 0002"), std::string::npos) << p.refused;
  EXPECT_NE(RenderPlanText(p).find("DOWNGRADE: the database is ahead of target v2"), std::string::npos);
  EXPECT_NE(RenderPlanMarkdown(p).find(":warning: Downgrade"), std::string::npos);
  EXPECT_NE(RenderPlanMarkdown(p).find("Apply will refuse and change nothing"), std::string::npos);
  web::json::value v = web::json::value::parse(RenderPlanJson(p));
  EXPECT_TRUE(v.at("downgrade").as_bool());
  EXPECT_EQ(v.at("ahead").size(), 2u);
  EXPECT_EQ(v.at("refused").as_string(), p.refused);

  su.policy.allow_downgrade = true;
  Plan allowed = BuildPlan(su, s, "athena:v5", "athena:v2");
  EXPECT_TRUE(allowed.refused.empty()) << allowed.refused;
  ASSERT_FALSE(allowed.steps.empty());
  EXPECT_NE(allowed.steps[0].description.find("DOWNGRADE"), std::string::npos) << allowed.steps[0].description;

  Plan nothing_to_do = BuildPlan(Spec(), s, "athena:v2", "athena:v2");
  EXPECT_TRUE(nothing_to_do.refused.empty());
}

TEST(BuildPlanTest, ADigestPinIsNotSilentlyReplacedByATag) {
  SchemaUpgrade su = Spec();
  Plan p = BuildPlan(su, State(), "reg.io/athena@sha256:" + std::string(64, 'a'), "reg.io/athena:v2");
  EXPECT_NE(p.refused.find("pinned by digest"), std::string::npos) << p.refused;
  EXPECT_NE(p.refused.find("reg.io/athena@sha256:<digest of v2>"), std::string::npos) << p.refused;
  Plan pinned = BuildPlan(su, State(), "reg.io/athena@sha256:" + std::string(64, 'a'),
                          "reg.io/athena@sha256:" + std::string(64, 'b'));
  EXPECT_TRUE(pinned.refused.empty()) << pinned.refused;
}

TEST(BackoffForTest, DoublesFromInitialAndCapsAtMax) {
  RetryPolicy p;
  p.initial_backoff = seconds(5);
  p.max_backoff = seconds(60);
  EXPECT_EQ(BackoffFor(p, 1), seconds(5));
  EXPECT_EQ(BackoffFor(p, 2), seconds(10));
  EXPECT_EQ(BackoffFor(p, 3), seconds(20));
  EXPECT_EQ(BackoffFor(p, 4), seconds(40));
  EXPECT_EQ(BackoffFor(p, 5), seconds(60));
  EXPECT_EQ(BackoffFor(p, 6), seconds(60));
  EXPECT_EQ(BackoffFor(p, 1000), seconds(60)) << "no overflow for large n";
  p.initial_backoff = seconds(90);
  EXPECT_EQ(BackoffFor(p, 1), seconds(60)) << "initial above max is capped";
  RetryPolicy defaults;
  EXPECT_EQ(BackoffFor(defaults, 1), milliseconds(5000));
  EXPECT_EQ(BackoffFor(defaults, 8), milliseconds(600000));
}

// SameImage now lives in runtimes/podman/image_ref.h (its rule is documented there); these cases
// are the ones the reconciler relies on to decide "already bumped" and "already rolled out".
TEST(SameImageTest, MatchesPodmansResolvedNamesAndImplicitLatest) {
  EXPECT_TRUE(SameImage("oryd/kratos:v1.2.0", "localhost/oryd/kratos:v1.2.0"));
  EXPECT_TRUE(SameImage("docker.io/oryd/kratos:v1.2.0", "oryd/kratos:v1.2.0"));
  EXPECT_TRUE(SameImage("docker.io/library/postgres:16", "postgres:16"));
  EXPECT_TRUE(SameImage("nginx", "nginx:latest"));
  EXPECT_TRUE(SameImage("localhost/athena", "athena:latest"));
  EXPECT_TRUE(SameImage("registry:5000/x/y", "registry:5000/x/y:latest"));
  EXPECT_TRUE(SameImage("x/y@sha256:abcd", "x/y@sha256:abcd"));
  EXPECT_TRUE(SameImage(kNewImageForSameImage, kNewImageForSameImage));
  EXPECT_FALSE(SameImage("oryd/kratos:v1.2.0", "oryd/kratos:v1.1.0"));
  EXPECT_FALSE(SameImage("localhost/oryd/kratos:v1.2.0", "localhost/oryd/kratos:v1.1.0"));
  EXPECT_FALSE(SameImage("oryd/kratos:v1.2.0", "oryd/hydra:v1.2.0"));
  EXPECT_FALSE(SameImage("localhost/x:1", "quay.io/x:1")) << "two named registries are two images";
  EXPECT_FALSE(SameImage("nginx", "nginx:1.25"));
  EXPECT_FALSE(SameImage("x/y@sha256:abcd", "x/y:latest"));
}

}  // namespace
}  // namespace su::testing
