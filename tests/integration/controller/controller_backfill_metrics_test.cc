// The controller's /metrics while a backfill runs (docs/backfill.md): per-resource gauges of rows
// done, the total estimate and the rate, labelled resource="ns/name", present while the backfill
// runs and removed when its migrate step ends. The backfill is held at a known point by another
// session locking a row of its third batch (no timing involved).
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "reconcilers/database/database.h"
#include "tests/integration/controller/controller_world.h"
#include "tests/support/free_port.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

// The value of the series `line_start` (e.g. `schema_upgrade_x{resource="a/b"}`), "" when absent.
std::string SeriesValue(const std::string& body, const std::string& line_start) {
  std::istringstream in(body);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(line_start + " ", 0) == 0) return l.substr(line_start.size() + 1);
  }
  return "";
}

TEST(ControllerBackfillMetrics, GaugesFollowARunningBackfillAndGoWhenItEnds) {
  ControllerWorld w;
  const std::string dsn = w.AddDatabase("filler");
  w.AddMigration("filler", "20260101000001",
                 "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0);\n"
                 "INSERT INTO items (id) SELECT g * 3 FROM generate_series(1, 1000) g;\n");
  // A long lock_timeout: the held batch waits (it must not fail and end the step while we look).
  w.WriteManifestFile("filler.yaml", w.Manifest("filler", "v1", "    lockTimeout: 120s\n"));
  const int port = FreeTcpPort();
  ASSERT_GT(port, 0);
  w.Start({"--workers", "1", "--resync", "10m", "--metrics-addr", "127.0.0.1:" + std::to_string(port)});
  std::string why;
  ASSERT_TRUE(w.WaitSucceeded("filler", "v1", &why)) << why;

  // Another session holds row 750: batches 1 and 2 (keys 3..600) commit, batch 3 waits.
  auto blocker = ConnectPostgres(dsn, "backfill-metrics-blocker");
  ASSERT_TRUE(blocker.ok()) << blocker.status().ToString();
  ASSERT_TRUE((*blocker)->ExecScript("BEGIN; SELECT * FROM items WHERE id = 750 FOR UPDATE").ok());
  w.AddMigration("filler", "20260101000002",
                 "-- schema-upgrade: backfill table=items key=id batch=100 adaptive=false pause=0\n"
                 "UPDATE items SET n = n + 1 WHERE id BETWEEN $1 AND $2;\n");
  w.WriteManifestFile("filler.yaml", w.Manifest("filler", "v2", "    lockTimeout: 120s\n"));

  const std::string done = "schema_upgrade_backfill_rows_done{resource=\"ctrl/filler\"}";
  HttpReply metrics;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       std::chrono::steady_clock::now() < deadline;) {
    metrics = HttpGet(port, "/metrics");
    if (SeriesValue(metrics.body, done) == "200") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(SeriesValue(metrics.body, done), "200") << metrics.body << "\n" << w.process()->LogTail();
  EXPECT_EQ(SeriesValue(metrics.body, "schema_upgrade_backfill_rows_total{resource=\"ctrl/filler\"}"), "1000")
      << metrics.body;
  const std::string rate = SeriesValue(metrics.body, "schema_upgrade_backfill_rows_per_second{resource=\"ctrl/filler\"}");
  ASSERT_FALSE(rate.empty()) << metrics.body;
  EXPECT_GT(std::stod(rate), 0) << metrics.body;
  EXPECT_NE(metrics.body.find("# HELP schema_upgrade_backfill_rows_done "), std::string::npos);

  // Released: the backfill finishes, and its series are gone with the step.
  ASSERT_TRUE((*blocker)->ExecScript("COMMIT").ok());
  ASSERT_TRUE(w.WaitSucceeded("filler", "v2", &why)) << why;
  EXPECT_EQ(w.Sql1("filler", "SELECT count(*) FROM items WHERE n = 1"), "1000");
  metrics = HttpGet(port, "/metrics");
  EXPECT_EQ(metrics.code, 200);
  EXPECT_EQ(metrics.body.find("backfill_rows_done{"), std::string::npos) << metrics.body;
  EXPECT_EQ(metrics.body.find("backfill_rows_total{"), std::string::npos) << metrics.body;
  EXPECT_EQ(metrics.body.find("backfill_rows_per_second{"), std::string::npos) << metrics.body;
  auto end = w.Terminate();
  ASSERT_TRUE(end.has_value()) << w.process()->LogTail();
}

}  // namespace
}  // namespace su::testing
