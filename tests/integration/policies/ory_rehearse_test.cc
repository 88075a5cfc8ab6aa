// Rehearsal of the ory engine on a real server with the fixture Kratos images run by podman: the
// migrator is rebuilt for the copy's DSN and run there; a failing migration is caught on the copy
// with the real database untouched (by Rehearse() and through the reconciler's policy.rehearse,
// which then fails the upgrade before any change); a passing one reports a duration per migration
// and the locks the migrator's sessions took, charged to the migration that took them; the copy is
// always dropped; the server password reaches no report, status, event, audit row or log line.
#include <gtest/gtest.h>

#include <filesystem>

#include "api/conditions.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/engines/ory/ory_engine.h"
#include "reconcilers/engines/ory/popx_history.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/rehearsal/rehearsal.h"
#include "reconcilers/rehearsal/scratch_database.h"
#include "reconcilers/runtimes/podman/podman.h"
#include "tests/integration/policies/policy_harness.h"
#include "tests/support/pg_server.h"
#include "tests/support/podman/local_podman.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

const std::vector<std::string> kKratosUp = {"kratos", "migrate", "sql", "up", "-e", "--yes"};
const char* kProbeImage = "localhost/su-test/kratos-lockprobe:v1";
const char* kProbeVersion = "20240601000001000000";
const char* kBrokenFirst = "20240501000001000000";
const char* kBrokenSecond = "20240501000002000000";

// Kratos v1.2.0 plus one migration that takes an AccessExclusiveLock on identities and keeps it
// until the rehearsal's lock sampler (application_name schema-upgrade-rehearsal-locks) has run a
// query that started after the lock was taken and has finished: so that query read pg_locks while
// the lock was held, however slow the machine. (Bounded at 60 s; the assertions then fail.)
Status BuildProbeImage() {
  TempDir ctx;
  ctx.Write("Containerfile", "FROM localhost/oryd/kratos:v1.2.0\nCOPY " + std::string(kProbeVersion) +
                                 "_identities_lock_probe.up.sql /migrations/\n");
  ctx.Write(std::string(kProbeVersion) + "_identities_lock_probe.up.sql",
            "ALTER TABLE identities ADD COLUMN lock_probe text;\n"
            // Rows for the whole run's counts: 5 inserted, 2 updated, 1 deleted.
            "CREATE TABLE lock_probe_rows (id int PRIMARY KEY, v text);\n"
            "INSERT INTO lock_probe_rows SELECT g, 'x' FROM generate_series(1, 5) g;\n"
            "UPDATE lock_probe_rows SET v = 'y' WHERE id <= 2;\n"
            "DELETE FROM lock_probe_rows WHERE id = 5;\n"
            "DO $$\n"
            "DECLARE t timestamptz := clock_timestamp();\n"
            "BEGIN\n"
            "  FOR i IN 1..6000 LOOP\n"
            "    PERFORM pg_stat_clear_snapshot();\n"
            "    EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = "
            "'schema-upgrade-rehearsal-locks' AND state = 'idle' AND query_start > t);\n"
            "    PERFORM pg_sleep(0.01);\n"
            "  END LOOP;\n"
            "END $$;\n");
  ProcessSpec p;
  p.argv = {"podman", "build", "--pull=never", "-q", "-t", kProbeImage, ctx.path()};
  p.env["CONTAINERS_CONF"] = TestContainersConf();
  auto r = PosixProcessRunner()->Run(p);
  if (!r.ok()) return r.status();
  if (!r->Succeeded()) return Status::Failed("podman build " + std::string(kProbeImage) + " failed:\n" + r->Tail(20));
  return Status::Ok();
}

class OryRehearseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Status s = BuildFixtureImages();
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = BuildProbeImage();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void SetUp() override {
    plain_ = PgServer::Shared().CreateDatabase("oryreh");
    // Ory's pool options ride along: the copy's DSN must keep them and libpq must never see them.
    dsn_ = plain_ + "?sslmode=disable&max_conns=20";
    resource_ = "ciam/" + PgServer::DbNameOf(plain_);
  }

  std::unique_ptr<Engine> Kratos(const std::string& image, const std::string& dsn) {
    return NewOryEngine(&rt_, image, kKratosUp, {}, "DSN", dsn);
  }
  // The real database at `image`'s migrations, applied by the real migrator.
  void MigrateRealTo(const std::string& image) {
    auto db = ConnectPostgres(plain_, "ory-rehearse-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    RunReport r = Kratos(image, dsn_)->Apply(db->get(), RunContext{});
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  }
  std::vector<std::string> RealHistory() {
    auto db = ConnectPostgres(plain_, "ory-rehearse-test");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return {};
    auto v = ReadPopxVersions(db->get());
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : std::vector<std::string>{};
  }
  std::string RealScalar(const std::string& sql) {
    auto db = ConnectPostgres(plain_, "ory-rehearse-test");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return "<no db>";
    auto r = (*db)->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() && !r->rows.empty() ? r->Get(0, 0, "<null>") : "<none>";
  }
  std::string CopyExists() {
    auto db = ConnectPostgres(PgServer::Shared().Dsn(), "ory-rehearse-test");
    EXPECT_TRUE(db.ok());
    if (!db.ok()) return "<no db>";
    auto r = (*db)->Query("SELECT count(*) FROM pg_database WHERE datname = $1", {ScratchDatabaseName(resource_)});
    return r.ok() ? r->Get(0, 0) : "<error>";
  }

  // Rehearses `image`'s pending migrations; the DSN each built engine got is kept in dsns_.
  RehearsalReport Rehearse(const std::string& image) {
    RehearsalOptions o;
    o.scratch.resource = resource_;
    o.scratch.allow_template = allow_template_;
    o.scratch.bin_dir = PgServer::BinDir();
    o.scratch.temp_dir = tmp_.path();
    o.engine_for_copy = [this, image](const std::string& copy_dsn) -> Result<std::unique_ptr<Engine>> {
      dsns_.push_back(copy_dsn);
      return Kratos(image, copy_dsn);
    };
    auto source_engine = Kratos(image, dsn_);
    RunContext ctx;
    ctx.resource = resource_;
    return su::Rehearse(source_engine.get(), dsn_, o, ctx);
  }

  LocalPodman rt_;
  TempDir tmp_;
  std::string plain_, dsn_, resource_;
  std::vector<std::string> dsns_;
  bool allow_template_ = true;
};

TEST_F(OryRehearseTest, AFailingMigrationIsCaughtOnTheCopyBeforeTheRealDatabaseIsTouched) {
  MigrateRealTo("localhost/oryd/kratos:v1.2.0");
  const std::vector<std::string> before = RealHistory();
  ASSERT_EQ(before.size(), 7u);

  RehearsalReport r = Rehearse("localhost/oryd/kratos:v1.2.1-broken");

  ASSERT_TRUE(r.ran) << r.skipped;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failed_version, kBrokenSecond);
  EXPECT_NE(r.error.find("relation \"session_device\" does not exist"), std::string::npos) << r.error;
  // The real run's advice (what is committed, retries) is not the rehearsal's.
  EXPECT_EQ(r.error.find("each applied migration is committed"), std::string::npos) << r.error;
  ASSERT_EQ(r.migrations.size(), 2u) << RenderRehearsalText(r);
  EXPECT_EQ(r.migrations[0].version, kBrokenFirst);
  EXPECT_TRUE(r.migrations[0].ok);
  EXPECT_EQ(r.migrations[1].version, kBrokenSecond);
  EXPECT_FALSE(r.migrations[1].ok);
  EXPECT_NE(r.migrations[1].error.find("session_device"), std::string::npos) << r.migrations[1].error;
  EXPECT_NE(RehearsalSummary(r).find("rehearsal FAILED at migration " + std::string(kBrokenSecond)), std::string::npos)
      << RehearsalSummary(r);
  // The migrator was built for the copy, in the source's form (URL, Ory's options kept).
  ASSERT_EQ(dsns_.size(), 1u);
  EXPECT_NE(dsns_[0].find("/" + ScratchDatabaseName(resource_) + "?sslmode=disable&max_conns=20"), std::string::npos);
  EXPECT_EQ(dsns_[0].rfind("postgres", 0), 0u);

  // The real database: as it was (not even the first, passing, migration), and the copy is gone.
  EXPECT_EQ(RealHistory(), before);
  EXPECT_EQ(RealScalar("SELECT to_regclass('session_devices') IS NULL"), "t");
  EXPECT_TRUE(r.dropped) << r.drop_error;
  EXPECT_EQ(CopyExists(), "0");
  const std::string pw = PgServer::Shared().password();
  EXPECT_EQ(RenderRehearsalText(r).find(pw), std::string::npos);
  EXPECT_EQ(RenderRehearsalMarkdown(r).find(pw), std::string::npos);
}

TEST_F(OryRehearseTest, APassingRunReportsDurationsAndTheLocksOfTheMigratorsSessions) {
  MigrateRealTo("localhost/oryd/kratos:v1.1.0");
  const std::vector<std::string> before = RealHistory();
  ASSERT_EQ(before.size(), 4u);
  // Rows the copy brings along: a dump/restore copy inserts them, and they must not count.
  {
    auto db = ConnectPostgres(plain_, "ory-rehearse-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Exec("CREATE TABLE seeded AS SELECT g AS id FROM generate_series(1, 50) g").ok());
  }
  allow_template_ = false;  // the copy by pg_restore, whose 50 inserts into seeded are not the migrator's

  RehearsalReport r = Rehearse(kProbeImage);

  ASSERT_TRUE(r.ok) << r.error << RenderRehearsalText(r);
  ASSERT_EQ(r.migrations.size(), 4u) << RenderRehearsalText(r);
  const std::vector<std::string> expected = {"20240301000001000000", "20240301000002000000", "20240301000003000000",
                                             kProbeVersion};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(r.migrations[i].version, expected[i]);
    EXPECT_TRUE(r.migrations[i].ok);
    EXPECT_TRUE(r.migrations[i].statements.empty());  // inside the image
  }
  const RehearsedMigration& probe = r.migrations[3];
  EXPECT_EQ(probe.name, "identities_lock_probe");
  // The probe held its lock across at least one full sample, and its row appeared a sample later.
  EXPECT_GT(probe.duration_ms, 0) << RenderRehearsalText(r);
  EXPECT_GE(r.total_ms, probe.duration_ms);
  const RehearsedLock* lock = nullptr;
  for (const auto& l : probe.locks) {
    if (l.relation == "public.identities" && l.mode == "AccessExclusiveLock") lock = &l;
  }
  ASSERT_NE(lock, nullptr) << RenderRehearsalText(r);
  EXPECT_EQ(lock->statement, 0);  // not known: the statements are inside the image
  bool sized = false;
  for (const auto& t : probe.tables) sized = sized || (t.name == "public.identities" && t.bytes > 0);
  EXPECT_TRUE(sized) << RenderRehearsalText(r);
  // popx's history table is the migrator's own: never charged to a migration.
  for (const auto& m : r.migrations) {
    for (const auto& l : m.locks) EXPECT_EQ(l.relation.find("schema_migration"), std::string::npos) << l.relation;
  }
  EXPECT_FALSE(r.measured.empty());
  const std::string text = RenderRehearsalText(r);
  EXPECT_NE(text.find("lock AccessExclusiveLock on public.identities held "), std::string::npos) << text;
  EXPECT_NE(text.find("  measured: "), std::string::npos) << text;
  // Rows touched over the whole run, from the copy's statistics: exactly the probe's, not the
  // copy's making (the seeded rows) nor popx's history rows.
  EXPECT_EQ(r.copy_method, "dump-restore");
  ASSERT_TRUE(r.rows_measured) << r.rows_note;
  EXPECT_EQ(r.rows_note, "");
  const RehearsedRowCount* probe_rows = nullptr;
  for (const auto& c : r.rows_touched) {
    if (c.table == "public.lock_probe_rows") probe_rows = &c;
    EXPECT_EQ(c.table.find("schema_migration"), std::string::npos) << text;
    EXPECT_NE(c.table, "public.seeded") << text;
  }
  ASSERT_NE(probe_rows, nullptr) << text;
  EXPECT_EQ(probe_rows->inserted, 5) << text;
  EXPECT_EQ(probe_rows->updated, 2) << text;
  EXPECT_EQ(probe_rows->deleted, 1) << text;
  EXPECT_NE(text.find("      table public.lock_probe_rows: 5 inserted, 2 updated, 1 deleted"), std::string::npos) << text;
  EXPECT_NE(RenderRehearsalMarkdown(r).find("| `public.lock_probe_rows` | 5 | 2 | 1 |"), std::string::npos)
      << RenderRehearsalMarkdown(r);

  // Nothing changed on the real database; the copy is gone.
  EXPECT_EQ(RealHistory(), before);
  EXPECT_EQ(RealScalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'identities' AND "
                       "column_name = 'lock_probe'"),
            "0");
  EXPECT_TRUE(r.dropped);
  EXPECT_EQ(CopyExists(), "0");
}

TEST_F(OryRehearseTest, WithoutAMigratorForTheCopyTheOryEngineIsSkippedAndSaysWhy) {
  RehearsalOptions o;
  o.scratch.resource = resource_;
  o.engine_for_copy_missing = "no Secret for the copy";
  auto engine = Kratos("localhost/oryd/kratos:v1.2.0", dsn_);
  RehearsalReport r = su::Rehearse(engine.get(), dsn_, o, RunContext{});
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(r.skipped, "no Secret for the copy");
  EXPECT_EQ(CopyExists(), "0");
}

// policy.rehearse through the reconciler, with the real podman runtime and engine factory: the
// broken tag fails on the copy, the upgrade is Failed (RehearsalFailed) and nothing ran on the
// real database.
TEST_F(OryRehearseTest, PolicyRehearseStopsTheRealRunOfABrokenTag) {
  PolicyHarness h("oryreh_policy");
  {
    auto db = h.Connect();
    ASSERT_NE(db, nullptr);
    RunReport pre = Kratos("localhost/oryd/kratos:v1.2.0", h.dsn())->Apply(db.get(), RunContext{});
    ASSERT_TRUE(pre.status.ok()) << pre.status.ToString();
  }
  const std::vector<std::string> before = h.History();
  ASSERT_EQ(before.size(), 7u);
  const std::string schema_before = h.Dump({"--schema-only"});

  PodmanConfig pc;
  pc.env["CONTAINERS_CONF"] = TestContainersConf();
  pc.pull = "never";
  auto podman = NewPodmanContainerRuntime(PosixProcessRunner(), pc);
  ContainerRuntime* rt = podman.get();
  ReconcilerDeps d = h.Deps();
  d.make_engine = [rt](const SchemaUpgrade& su, const std::string& dsn, const std::string& image) {
    return MakeEngine(su, dsn, image, LocalFileSystem(), rt);
  };
  Reconciler rec(d);
  const std::string yaml =
      "apiVersion: olympus.io/v1alpha1\n"
      "kind: SchemaUpgrade\n"
      "metadata:\n"
      "  name: kratos\n"
      "  namespace: policies\n"
      "spec:\n"
      "  targetVersion: v1.2.1-broken\n"
      "  image: localhost/oryd/kratos:v1.2.1-broken\n"
      "  database:\n"
      "    dsnFrom:\n"
      "      env: " + std::string(kDsnEnv) + "\n"
      "  migrations:\n"
      "    engine: ory\n"
      "    command: [kratos, migrate, sql, up, -e, --yes]\n"
      "  policy:\n"
      "    rehearse: true\n";
  auto parsed = ParseManifests(yaml, "kratos.yaml", h.dir());
  ASSERT_TRUE(parsed.ok() && parsed->size() == 1) << parsed.status().ToString();

  auto out = h.Reconcile(rec, parsed->front());

  EXPECT_EQ(out.kind, OutcomeKind::kFailed) << out.result.ToString();
  EXPECT_EQ(out.reason, reasons::kRehearsalFailed);
  EXPECT_NE(out.result.message().find("rehearsal FAILED at migration " + std::string(kBrokenSecond)), std::string::npos)
      << out.result.message();
  EXPECT_NE(out.result.message().find("nothing was changed on the real database"), std::string::npos);
  ASSERT_TRUE(out.plan && out.plan->rehearsal);
  EXPECT_TRUE(out.plan->rehearsal->ran);
  EXPECT_EQ(out.plan->rehearsal->migrations.size(), 2u);
  // The real database: not one migration more, schema byte for byte.
  EXPECT_EQ(h.History(), before);
  EXPECT_EQ(h.Dump({"--schema-only"}), schema_before);
  EXPECT_EQ(h.Scalar("SELECT count(*) FROM pg_database WHERE datname = '" + ScratchDatabaseName("policies/kratos") + "'"),
            "0");
  h.ExpectNoSecretAnywhere();
}

TEST(MigratorDsnTest, KeepsTheSourcesFormAndOptionsAndReplacesOnlyTheDatabase) {
  auto url = MigratorDsn("postgres://kratos:p%2Fw@db.example:5433/kratos?sslmode=disable&max_conns=20", "su_x");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(*url, "postgres://kratos:p%2Fw@db.example:5433/su_x?sslmode=disable&max_conns=20");
  // No path; a socket folder in the query; a dbname= option (it would win over the path) dropped.
  auto sock = MigratorDsn("postgresql://kratos@?host=/run/pg&dbname=kratos&port=5432", "su_x");
  ASSERT_TRUE(sock.ok());
  EXPECT_EQ(*sock, "postgresql://kratos@/su_x?host=/run/pg&port=5432");
  auto kw = MigratorDsn("host=/run/pg user=kratos password=secret dbname=kratos", "su_x");
  ASSERT_TRUE(kw.ok());
  EXPECT_NE(kw->find("dbname='su_x'"), std::string::npos) << *kw;
  EXPECT_EQ(kw->find("dbname='kratos'"), std::string::npos) << *kw;
  auto bad = MigratorDsn("mysql://u:secret@h/db", "su_x");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("secret"), std::string::npos);
}

}  // namespace
}  // namespace su::testing
