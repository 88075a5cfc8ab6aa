// `schema-upgrade controller` as a long-running process (issue 3, "The loop") against a real
// PostgreSQL: resources present at start, inotify pick-up of new, rewritten and atomically replaced
// manifests, an invalid manifest beside valid ones, transient failures with backoff and a retry
// budget, the metrics and health endpoints, and SIGTERM. sql engine, no workload (no podman).
// Every wait polls the status files (or the log / an endpoint) with a bound; nothing asserts time.
#include <gtest/gtest.h>

#include "tests/support/free_port.h"
#include <signal.h>

#include <set>
#include <thread>
#include <sstream>

#include "tests/integration/controller/controller_world.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

constexpr const char* kV1 = "20260101000001";
constexpr const char* kV2 = "20260101000002";

std::string V1Sql() { return "CREATE TABLE things (id int PRIMARY KEY);\nINSERT INTO things VALUES (1), (2);\n"; }
std::string V2Sql() { return "ALTER TABLE things ADD COLUMN note text;\nINSERT INTO things VALUES (3, 'three');\n"; }

// Neither the controller's output nor the status files ever show the server's password.
void ExpectNoPassword(ControllerWorld& w) {
  const std::string& pw = PgServer::Shared().password();
  ASSERT_FALSE(pw.empty());
  EXPECT_EQ(w.Log().find(pw), std::string::npos) << "the DSN password leaked into the controller's output";
  EXPECT_EQ(w.StatusFilesText().find(pw), std::string::npos) << "the DSN password leaked into a status file";
}

void ExpectStopsCleanly(ControllerWorld& w) {
  auto end = w.Terminate();
  ASSERT_TRUE(end.has_value()) << "the controller did not stop on SIGTERM\n" << w.process()->LogTail();
  EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe() << "\n" << w.process()->LogTail();
}

TEST(ControllerIntegrationTest, ReconcilesEveryResourcePresentAtStartWithTwoWorkers) {
  ControllerWorld w;
  for (const std::string n : {"alpha", "beta"}) {
    w.AddDatabase(n);
    w.AddMigration(n, kV1, V1Sql());
    w.AddMigration(n, kV2, V2Sql());
    w.WriteManifestFile(n + ".yaml", w.Manifest(n, "v2"));
  }
  w.Start({"--workers", "2", "--resync", "10m"});
  std::string why;
  ASSERT_TRUE(w.WaitSucceeded("alpha", "v2", &why)) << why;
  ASSERT_TRUE(w.WaitSucceeded("beta", "v2", &why)) << why;
  for (const std::string n : {"alpha", "beta"}) {
    EXPECT_EQ(w.HistoryCounts(n), std::string(kV1) + ":1," + kV2 + ":1") << n;
    EXPECT_EQ(w.Sql1(n, "SELECT count(*) FROM things"), "3") << n;
    auto st = w.LoadStatus(n);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->current_version, kV2) << n;
    EXPECT_EQ(st->attempts, 0) << n;
    const Condition* ready = FindCondition(*st, "Ready");
    ASSERT_NE(ready, nullptr) << n;
    EXPECT_EQ(ready->status, "True") << n;
  }
  // The CLI view of the same state dir lists both as Succeeded.
  std::string json = w.StatusCliJson();
  EXPECT_NE(json.find("ctrl/alpha"), std::string::npos) << json;
  EXPECT_NE(json.find("ctrl/beta"), std::string::npos) << json;
  EXPECT_EQ(json.find("\"Failed\""), std::string::npos) << json;
  ExpectNoPassword(w);
  ExpectStopsCleanly(w);
}

TEST(ControllerIntegrationTest, InotifyPicksUpNewManifestsAndNewTargetVersions) {
  ControllerWorld w;
  w.AddDatabase("first");
  w.AddMigration("first", kV1, V1Sql());
  w.WriteManifestFile("first.yaml", w.Manifest("first", "v1"));
  w.AddDatabase("second");
  w.AddMigration("second", kV1, V1Sql());
  // --resync 10m: after the start-up listing, only inotify can explain a pick-up.
  w.Start({"--workers", "2", "--resync", "10m"});
  std::string why;
  ASSERT_TRUE(w.WaitSucceeded("first", "v1", &why)) << why;
  ASSERT_TRUE(w.WaitForLog("controller.started", &why)) << why;

  // A new file in the folder.
  w.WriteManifestFile("second.yaml", w.Manifest("second", "v1"));
  ASSERT_TRUE(w.WaitSucceeded("second", "v1", &why)) << why;
  EXPECT_EQ(w.HistoryCounts("second"), std::string(kV1) + ":1");

  // A new migration, then the manifest rewritten in place with a new targetVersion.
  w.AddMigration("first", kV2, V2Sql());
  w.WriteManifestFile("first.yaml", w.Manifest("first", "v2"));
  ASSERT_TRUE(w.WaitSucceeded("first", "v2", &why)) << why;
  EXPECT_EQ(w.HistoryCounts("first"), std::string(kV1) + ":1," + kV2 + ":1");
  EXPECT_EQ(w.Sql1("first", "SELECT count(*) FROM things"), "3") << "the new migration's data step ran once";
  auto st = w.LoadStatus("first");
  ASSERT_TRUE(st);
  ASSERT_EQ(st->applied.size(), 1u) << "this spec applied only the new migration";
  EXPECT_EQ(st->applied[0].version, kV2);
  ExpectNoPassword(w);
  ExpectStopsCleanly(w);
  // Still once after the controller is gone (no pass ran it again meanwhile).
  EXPECT_EQ(w.HistoryCounts("first"), std::string(kV1) + ":1," + kV2 + ":1");
}

TEST(ControllerIntegrationTest, EditorStyleAtomicReplaceIsPickedUp) {
  ControllerWorld w;
  w.AddDatabase("edited");
  w.AddMigration("edited", kV1, V1Sql());
  w.WriteManifestFile("edited.yaml", w.Manifest("edited", "v1"));
  w.Start({"--workers", "1", "--resync", "10m"});
  std::string why;
  ASSERT_TRUE(w.WaitSucceeded("edited", "v1", &why)) << why;

  w.AddMigration("edited", kV2, V2Sql());
  w.ReplaceManifestFile("edited.yaml", w.Manifest("edited", "v2"));
  ASSERT_TRUE(w.WaitSucceeded("edited", "v2", &why)) << why;
  EXPECT_EQ(w.HistoryCounts("edited"), std::string(kV1) + ":1," + kV2 + ":1");
  // The hidden temp file of the save is not a resource of its own.
  EXPECT_EQ(w.Log().find("/.edited.yaml.tmp"), std::string::npos) << w.Log();
  ExpectStopsCleanly(w);
}

TEST(ControllerIntegrationTest, InvalidManifestIsReportedAndTheOthersKeepReconciling) {
  ControllerWorld w;
  w.AddDatabase("good");
  w.AddMigration("good", kV1, V1Sql());
  w.WriteManifestFile("good.yaml", w.Manifest("good", "v1"));
  w.AddDatabase("later");
  w.AddMigration("later", kV1, V1Sql());
  w.Start({"--workers", "2", "--resync", "10m"});
  std::string why;
  ASSERT_TRUE(w.WaitSucceeded("good", "v1", &why)) << why;

  std::string broken = w.WriteManifestFile("broken.yaml", "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\n"
                                                          "metadata: {name: later, namespace: ctrl\nspec: [\n");
  ASSERT_TRUE(w.WaitForLog("manifest.invalid", &why)) << why;
  std::string log = w.Log();
  std::string line = log.substr(log.find("manifest.invalid"));
  line = line.substr(0, line.find('\n'));
  EXPECT_NE(line.find(broken), std::string::npos) << "the log line names the file: " << line;
  EXPECT_TRUE(w.process()->running()) << "an invalid manifest must not stop the controller\n" << w.process()->LogTail();

  // The others still reconcile: a change to a valid resource is acted on.
  w.AddMigration("good", kV2, V2Sql());
  w.WriteManifestFile("good.yaml", w.Manifest("good", "v2"));
  ASSERT_TRUE(w.WaitSucceeded("good", "v2", &why)) << why;
  EXPECT_FALSE(w.LoadStatus("later")) << "nothing was reconciled for the broken file";

  // Fixing the file reconciles what it now declares.
  w.WriteManifestFile("broken.yaml", w.Manifest("later", "v1"));
  ASSERT_TRUE(w.WaitSucceeded("later", "v1", &why)) << why;
  EXPECT_EQ(w.HistoryCounts("later"), std::string(kV1) + ":1");
  ExpectNoPassword(w);
  ExpectStopsCleanly(w);
}

// Past its budget a transient failure is Stalled (RetriesExhausted, for alerts) but never Failed,
// and it keeps being retried at the maximum backoff (issue 7: outages heal by themselves).
TEST(ControllerIntegrationTest, TransientFailureBacksOffThenStallsKeepsRetryingAndANewSpecResetsAttempts) {
  ControllerWorld w;
  int dead_port = FreeTcpPort();
  ASSERT_GT(dead_port, 0);
  // The real password, on a port where no server listens: it must still never be shown.
  w.SetDsn("down", "postgres://postgres:" + PgServer::Shared().password() + "@127.0.0.1:" + std::to_string(dead_port) +
                       "/nowhere?sslmode=disable&connect_timeout=5");
  w.AddMigration("down", kV1, V1Sql());
  const std::string retries = "    retries:\n      limit: 2\n      backoff: {initial: 200ms, max: 400ms}\n";
  w.WriteManifestFile("down.yaml", w.Manifest("down", "v1", retries));
  w.Start({"--workers", "1", "--resync", "10m"});

  std::set<int> attempts_seen;
  bool saw_next_retry = false;
  bool saw_failed = false;
  auto seen = [&](const ResourceStatus& s) {
    saw_failed |= s.phase == Phase::kFailed;
    attempts_seen.insert(s.attempts);
    if (s.attempts > 0 && !s.next_retry_at.empty()) saw_next_retry = true;
  };
  auto stalled_after = [](int attempts) {
    return [attempts](const ResourceStatus& s) {
      const Condition* c = FindCondition(s, "Stalled");
      return c && c->status == "True" && c->reason == "RetriesExhausted" && s.attempts >= attempts;
    };
  };
  std::string why;
  ASSERT_TRUE(w.WaitFor("down", stalled_after(3), &why, std::chrono::seconds(60), seen)) << why;
  auto st = w.LoadStatus("down");
  ASSERT_TRUE(st);
  EXPECT_NE(st->phase, Phase::kFailed) << "a transient failure never makes a resource Failed. " << w.Describe(st);
  EXPECT_FALSE(st->next_retry_at.empty()) << "a stalled transient failure still has a next retry";
  EXPECT_FALSE(st->last_error.empty());
  // The retries were visible while they happened (attempts counted up, a next retry time set),
  // in the status files and in the log.
  EXPECT_TRUE(attempts_seen.count(1) || attempts_seen.count(2)) << "no retrying status was ever observed";
  EXPECT_TRUE(saw_next_retry) << "no status with nextRetryAt was observed";
  // It keeps trying past the budget, at the maximum backoff.
  ASSERT_TRUE(w.WaitFor("down", stalled_after(5), &why, std::chrono::seconds(60), seen)) << why;
  EXPECT_FALSE(saw_failed) << "the resource went Failed on a transient failure";
  std::string log = w.Log();
  EXPECT_NE(log.find("attempt=1"), std::string::npos) << log;
  EXPECT_NE(log.find("attempt=4"), std::string::npos) << log;
  EXPECT_TRUE(w.process()->running());

  // A new targetVersion is a new spec: a fresh budget (attempts would otherwise continue).
  w.WriteManifestFile("down.yaml", w.Manifest("down", "v2", retries));
  std::set<int> attempts_v2;
  ASSERT_TRUE(w.WaitFor(
      "down",
      [&](const ResourceStatus& s) { return s.target_version == "v2" && stalled_after(3)(s); }, &why,
      std::chrono::seconds(60), [&](const ResourceStatus& s) {
        if (s.target_version == "v2") attempts_v2.insert(s.attempts);
      }))
      << why;
  ASSERT_FALSE(attempts_v2.empty());
  EXPECT_LE(*attempts_v2.begin(), 1) << "attempts carried over from the old spec";
  ExpectNoPassword(w);
  ExpectStopsCleanly(w);
}

TEST(ControllerIntegrationTest, ServesMetricsHealthAndReadiness) {
  ControllerWorld w;
  w.AddDatabase("metered");
  w.AddMigration("metered", kV1, V1Sql());
  w.WriteManifestFile("metered.yaml", w.Manifest("metered", "v1"));
  int port = FreeTcpPort();
  ASSERT_GT(port, 0);
  w.Start({"--workers", "1", "--resync", "10m", "--metrics-addr", "127.0.0.1:" + std::to_string(port),
           "--metrics-per-resource"});
  std::string why;
  ASSERT_TRUE(w.WaitForLog("controller.started", &why)) << why;
  HttpReply healthz = HttpGet(port, "/healthz");
  EXPECT_EQ(healthz.code, 200) << healthz.body;
  // Ready once the first scan of the folder is done, which a loaded machine may not have reached
  // when the start is logged: wait for it (bounded), never assume it.
  HttpReply readyz = HttpGet(port, "/readyz");
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       readyz.code != 200 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    readyz = HttpGet(port, "/readyz");
  }
  EXPECT_EQ(readyz.code, 200) << readyz.body;
  EXPECT_EQ(HttpGet(port, "/no-such-page").code, 404);

  ASSERT_TRUE(w.WaitSucceeded("metered", "v1", &why)) << why;
  // The phase gauge is set when the pass returns, just after its status is written: poll for it.
  const std::string series_start = "schema_upgrade_phase{";
  auto has_succeeded_line = [&](const std::string& body) {
    std::istringstream in(body);
    for (std::string l; std::getline(in, l);) {
      if (l.rfind(series_start, 0) == 0 && l.find("phase=\"Succeeded\"") != std::string::npos &&
          l.find("resource=\"ctrl/metered\"") != std::string::npos && l.size() >= 2 &&
          l.compare(l.size() - 2, 2, " 1") == 0) {
        return true;
      }
    }
    return false;
  };
  HttpReply metrics;
  for (int i = 0; i < 300; ++i) {
    metrics = HttpGet(port, "/metrics");
    if (metrics.code == 200 && has_succeeded_line(metrics.body)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(metrics.code, 200);
  EXPECT_NE(metrics.body.find("schema_upgrade_reconciles_total"), std::string::npos) << metrics.body;
  EXPECT_TRUE(has_succeeded_line(metrics.body)) << metrics.body;
  // Only the current phase of a resource reads 1.
  std::istringstream in(metrics.body);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(series_start, 0) == 0 && l.find("resource=\"ctrl/metered\"") != std::string::npos &&
        l.find("phase=\"Succeeded\"") == std::string::npos) {
      EXPECT_EQ(l.compare(l.size() - 2, 2, " 0"), 0) << "a stale phase still reads non-zero: " << l;
    }
  }
  EXPECT_EQ(metrics.body.find(PgServer::Shared().password()), std::string::npos);
  ExpectStopsCleanly(w);
}

// The phase gauge is "1 for the current phase": a resource that failed and was then fixed must not
// keep reading 1 for Failed beside Succeeded.
TEST(ControllerIntegrationTest, PhaseGaugeFollowsTheCurrentPhase) {
  ControllerWorld w;
  w.AddDatabase("fixed");
  w.AddMigration("fixed", kV1, "CREATE TABLE things (id int PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n");
  w.WriteManifestFile("fixed.yaml", w.Manifest("fixed", "v1"));
  int port = FreeTcpPort();
  ASSERT_GT(port, 0);
  w.Start({"--workers", "1", "--resync", "10m", "--metrics-addr", "127.0.0.1:" + std::to_string(port),
           "--metrics-per-resource"});
  std::string why;
  ASSERT_TRUE(w.WaitFor("fixed", [](const ResourceStatus& s) { return s.phase == Phase::kFailed; }, &why)) << why;
  EXPECT_EQ(w.Sql1("fixed", "SELECT to_regclass('public.things') IS NULL"), "t") << "the failed file was rolled back";

  w.AddMigration("fixed", kV1, V1Sql());
  w.WriteManifestFile("fixed.yaml", w.Manifest("fixed", "v1-fixed"));
  ASSERT_TRUE(w.WaitSucceeded("fixed", "v1-fixed", &why)) << why;
  const std::string succeeded = "schema_upgrade_phase{phase=\"Succeeded\",resource=\"ctrl/fixed\"} 1";
  HttpReply metrics;
  for (int i = 0; i < 300; ++i) {
    metrics = HttpGet(port, "/metrics");
    if (metrics.body.find(succeeded) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(metrics.body.find(succeeded), std::string::npos) << metrics.body;
  EXPECT_EQ(metrics.body.find("schema_upgrade_phase{phase=\"Failed\",resource=\"ctrl/fixed\"} 1"), std::string::npos)
      << "the earlier Failed phase still reads 1 beside Succeeded:\n" << metrics.body;
  ExpectStopsCleanly(w);
}

TEST(ControllerIntegrationTest, SigtermMidMigrationExitsZeroAndReleasesTheLock) {
  ControllerWorld w;
  w.AddDatabase("slow");
  w.AddMigration("slow", kV1, V1Sql());
  w.AddMigration("slow", kV2, "CREATE TABLE slow_done (id int);\nSELECT pg_sleep(2);\nINSERT INTO slow_done VALUES (1);\n");
  w.WriteManifestFile("slow.yaml", w.Manifest("slow", "v2"));
  w.Start({"--workers", "1", "--resync", "10m"});
  std::string why;
  ASSERT_TRUE(w.WaitFor("slow", [](const ResourceStatus& s) { return s.phase == Phase::kMigrating; }, &why)) << why;
  // Signal while the slow file's statement runs (seen in pg_stat_activity), after the first committed.
  bool sleeping = false;
  for (int i = 0; i < 1000 && !sleeping && w.process()->running(); ++i) {
    sleeping = w.Sql1("slow", "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                              "AND state = 'active' AND query LIKE 'SELECT pg_sleep(2)%'") == "1";
    if (!sleeping) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(sleeping) << "the slow migration was never seen running\n" << w.process()->LogTail();
  ExpectStopsCleanly(w);
  EXPECT_EQ(w.AdvisoryLocks("slow"), 0) << "advisory locks left after the controller stopped";
  auto st = w.LoadStatus("slow");
  ASSERT_TRUE(st);
  EXPECT_NE(st->phase, Phase::kFailed) << "a shutdown is not a failure: " << w.Describe(st);
  EXPECT_EQ(st->attempts, 0) << "a shutdown spends no retry attempt: " << w.Describe(st);
  if (st->phase != Phase::kSucceeded) {
    // Abandoned rather than finished: the record says so, and the slow file left nothing behind.
    const Condition* reconciling = FindCondition(*st, "Reconciling");
    ASSERT_NE(reconciling, nullptr) << w.Describe(st);
    EXPECT_EQ(reconciling->reason, "Interrupted") << w.Describe(st);
    EXPECT_EQ(w.HistoryCounts("slow"), std::string(kV1) + ":1") << "the interrupted file is not recorded";
    EXPECT_EQ(w.Sql1("slow", "SELECT to_regclass('public.slow_done') IS NULL"), "t") << "the interrupted file rolled back";
  }

  // A restart converges with every migration applied exactly once.
  w.Start({"--workers", "1", "--resync", "10m"});
  ASSERT_TRUE(w.WaitSucceeded("slow", "v2", &why)) << why;
  EXPECT_EQ(w.HistoryCounts("slow"), std::string(kV1) + ":1," + kV2 + ":1");
  EXPECT_EQ(w.Sql1("slow", "SELECT count(*) FROM slow_done"), "1");
  ExpectNoPassword(w);
  ExpectStopsCleanly(w);
  EXPECT_EQ(w.AdvisoryLocks("slow"), 0);
}

}  // namespace
}  // namespace su::testing
