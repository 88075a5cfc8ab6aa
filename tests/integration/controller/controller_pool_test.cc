// The controller's PostgreSQL sessions (issue 10): passes reuse one backend across resyncs instead
// of connecting each time, resources that share a database share its sessions, and
// --max-connections-per-database bounds them (more workers wait, nothing fails).
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/controller/controller_world.h"
#include "tests/support/free_port.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

constexpr const char* kV1 = "20260101000001";
// The controller's own pass sessions: named for a resource while in use, kIdleSessionName between.
const std::string kPassSessions =
    "datname = current_database() AND (application_name LIKE 'schema-upgrade:%' OR "
    "application_name = 'schema-upgrade-idle')";

// The value of the first /metrics series starting with `series` (-1 when absent).
double MetricValue(int port, const std::string& series) {
  HttpReply r = HttpGet(port, "/metrics");
  std::istringstream in(r.body);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(series, 0) == 0) return std::stod(l.substr(l.rfind(' ') + 1));
  }
  return -1;
}

bool WaitUntil(const std::function<bool()>& cond, std::chrono::seconds bound = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

TEST(ControllerPoolTest, ResyncPassesReuseOneBackendInsteadOfConnectingEachTime) {
  ControllerWorld w;
  w.AddDatabase("reused");
  w.AddMigration("reused", kV1, "CREATE TABLE things (id int);\n");
  w.WriteManifestFile("reused.yaml", w.Manifest("reused", "v1"));
  int port = FreeTcpPort();
  ASSERT_GT(port, 0);
  w.Start({"--workers", "2", "--resync", "1s", "--metrics-addr", "127.0.0.1:" + std::to_string(port)});
  std::string why;
  ASSERT_TRUE(w.WaitSucceeded("reused", "v1", &why)) << why;
  const std::string passes = "schema_upgrade_reconcile_results_total{result=\"succeeded\"}";
  ASSERT_TRUE(WaitUntil([&] { return MetricValue(port, passes) >= 1; })) << w.Log();
  std::string pid = w.Sql1("reused", "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE " + kPassSessions);
  ASSERT_FALSE(pid.empty()) << "no pooled session is kept between passes\n" << w.Log();
  EXPECT_EQ(pid.find(','), std::string::npos) << "one resource, one session: " << pid;
  double before = MetricValue(port, passes);
  ASSERT_TRUE(WaitUntil([&] { return MetricValue(port, passes) >= before + 3; })) << w.Log();
  EXPECT_EQ(w.Sql1("reused", "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE " + kPassSessions), pid)
      << "three more passes should have run on the same backend";
  EXPECT_EQ(MetricValue(port, "schema_upgrade_db_sessions{state=\"idle\"}") +
                MetricValue(port, "schema_upgrade_db_sessions{state=\"in_use\"}"),
            1);
  EXPECT_EQ(w.AdvisoryLocks("reused"), 0) << "an idle pooled session holds no lock";
  auto end = w.Terminate();
  ASSERT_TRUE(end && end->exited && end->exit_code == 0) << w.process()->LogTail();
}

TEST(ControllerPoolTest, ResourcesSharingADatabaseStayWithinTheCapAndAllSucceed) {
  ControllerWorld w;
  std::string dsn = w.AddDatabase("sharea");
  w.SetDsn("shareb", dsn);
  w.SetDsn("sharec", dsn);
  for (const std::string n : {"sharea", "shareb", "sharec"}) {
    w.AddMigration(n, kV1, "CREATE TABLE " + n + "_things (id int);\nSELECT pg_sleep(0.2);\n");
    std::string m = w.Manifest(n, "v1");
    // Each keeps its history in a schema of its own inside the one database.
    m.replace(m.find("    engine: sql\n"), 16, "    engine: sql\n    schema: hist_" + n + "\n");
    w.WriteManifestFile(n + ".yaml", m);
  }
  w.Start({"--workers", "3", "--resync", "1s", "--max-connections-per-database", "1"});
  int most = 0;
  std::set<std::string> pids;
  auto sample = [&](const ResourceStatus&) {
    std::string r = w.Sql1("sharea", "SELECT count(*) || '/' || coalesce(min(pid)::text, '') FROM pg_stat_activity "
                                        "WHERE " + kPassSessions);
    auto slash = r.find('/');
    if (slash == std::string::npos) return;
    most = std::max(most, std::atoi(r.substr(0, slash).c_str()));
    if (slash + 1 < r.size()) pids.insert(r.substr(slash + 1));
  };
  std::string why;
  for (const std::string n : {"sharea", "shareb", "sharec"}) {
    ASSERT_TRUE(w.WaitFor(n, [](const ResourceStatus& st) { return st.phase == Phase::kSucceeded; }, &why,
                          std::chrono::seconds(120), sample))
        << why;
  }
  // A few resync rounds over all three.
  for (int i = 0; i < 20; ++i) {
    sample(ResourceStatus{});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(most, 1) << "more pass sessions than --max-connections-per-database\n" << w.Log();
  EXPECT_EQ(pids.size(), 1u) << "the three resources should have shared one backend\n" << w.Log();
  for (const std::string n : {"sharea", "shareb", "sharec"}) {
    EXPECT_EQ(w.Sql1("sharea", "SELECT count(*) FROM hist_" + n + ".schema_migration"), "1") << n;
  }
  auto end = w.Terminate();
  ASSERT_TRUE(end && end->exited && end->exit_code == 0) << w.process()->LogTail();
}

}  // namespace
}  // namespace su::testing
