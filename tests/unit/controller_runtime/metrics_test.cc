// Metrics: Prometheus text exposition of counters, gauges and summaries with labels.
#include "controller/runtime/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace su {
namespace {

TEST(MetricsTest, RendersPrometheusTextFormat) {
  Metrics m;
  m.Describe(kReconcilesTotal, "Reconcile passes by result.");
  m.IncCounter(kReconcilesTotal, {{"result", "success"}});
  m.IncCounter(kReconcilesTotal, {{"result", "success"}});
  m.IncCounter(kReconcilesTotal, {{"result", "error"}});
  m.Observe(kReconcileDurationSeconds, {}, 0.5);
  m.Observe(kReconcileDurationSeconds, {}, 1.25);
  m.SetGauge(kBlockedSessions, {{"database", "kratos"}}, 3);
  m.IncCounter(kMigrationsAppliedTotal, {{"resource", "ciam/kratos"}, {"engine", "ory"}}, 4);
  m.SetGaugeFunc(kQueueDepth, {}, [] { return 7.0; });
  EXPECT_EQ(m.Render(),
            "# TYPE schema_upgrade_blocked_sessions gauge\n"
            "schema_upgrade_blocked_sessions{database=\"kratos\"} 3\n"
            "# TYPE schema_upgrade_migrations_applied_total counter\n"
            "schema_upgrade_migrations_applied_total{engine=\"ory\",resource=\"ciam/kratos\"} 4\n"
            "# TYPE schema_upgrade_queue_depth gauge\n"
            "schema_upgrade_queue_depth 7\n"
            "# TYPE schema_upgrade_reconcile_duration_seconds summary\n"
            "schema_upgrade_reconcile_duration_seconds_sum 1.75\n"
            "schema_upgrade_reconcile_duration_seconds_count 2\n"
            "# HELP schema_upgrade_reconciles_total Reconcile passes by result.\n"
            "# TYPE schema_upgrade_reconciles_total counter\n"
            "schema_upgrade_reconciles_total{result=\"error\"} 1\n"
            "schema_upgrade_reconciles_total{result=\"success\"} 2\n");
}

// Issue 10: rendering used to hold the registry's one lock for every series: while a family of
// 10,000 per-resource series rendered, every pass's counter update waited. Now a family renders
// under its own lock: an update of another family goes through while one is still rendering
// (here a gauge function that blocks until the update has happened).
TEST(MetricsTest, AnUpdateOfAnotherFamilyIsNotHeldUpByARenderInProgress) {
  Metrics m("");
  std::mutex mu;
  std::condition_variable cv;
  bool rendering = false, updated = false;
  m.SetGaugeFunc("big", {{"resource", "a"}}, [&] {
    std::unique_lock<std::mutex> l(mu);
    rendering = true;
    cv.notify_all();
    // Bounded: a registry that holds one lock while rendering never lets the update through.
    cv.wait_for(l, std::chrono::seconds(10), [&] { return updated; });
    return 1.0;
  });
  std::string out;
  std::thread render([&] { out = m.Render(); });
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return rendering; }));
  }
  auto t0 = std::chrono::steady_clock::now();
  m.IncCounter("reconcile_results_total", {{"result", "succeeded"}});
  auto waited = std::chrono::steady_clock::now() - t0;
  {
    std::lock_guard<std::mutex> l(mu);
    updated = true;
  }
  cv.notify_all();
  render.join();
  EXPECT_LT(waited, std::chrono::seconds(5)) << "the update waited for the render";
  EXPECT_EQ(m.Value("reconcile_results_total", {{"result", "succeeded"}}), 1);
  EXPECT_NE(out.find("big{resource=\"a\"} 1"), std::string::npos) << out;
}

TEST(MetricsTest, LabelOrderDoesNotSplitASeries) {
  Metrics m("");
  m.IncCounter("x_total", {{"a", "1"}, {"b", "2"}});
  m.IncCounter("x_total", {{"b", "2"}, {"a", "1"}});
  EXPECT_EQ(m.Value("x_total", {{"a", "1"}, {"b", "2"}}), 2);
  EXPECT_EQ(m.Render(), "# TYPE x_total counter\nx_total{a=\"1\",b=\"2\"} 2\n");
}

TEST(MetricsTest, ARemovedSeriesIsNoLongerRendered) {
  Metrics m;
  m.SetGauge("phase", {{"resource", "a"}, {"phase", "Pending"}}, 1);
  m.SetGauge("phase", {{"resource", "a"}, {"phase", "Succeeded"}}, 1);
  m.RemoveSeries("phase", {{"phase", "Pending"}, {"resource", "a"}});
  m.RemoveSeries("no_such_metric", {});
  std::string out = m.Render();
  EXPECT_EQ(out.find("Pending"), std::string::npos) << out;
  EXPECT_NE(out.find("schema_upgrade_phase{phase=\"Succeeded\",resource=\"a\"} 1"), std::string::npos) << out;
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Metrics m("");
  m.Describe("g", "line one\nback\\slash");
  m.SetGauge("g", {{"msg", "say \"hi\"\\\n"}}, -1.5);
  EXPECT_EQ(m.Render(),
            "# HELP g line one\\nback\\\\slash\n"
            "# TYPE g gauge\n"
            "g{msg=\"say \\\"hi\\\"\\\\\\n\"} -1.5\n");
}

TEST(MetricsTest, CountersIgnoreNegativeDeltasAndGaugesMoveBothWays) {
  Metrics m("");
  m.IncCounter("c", {}, 2);
  m.IncCounter("c", {}, -5);
  EXPECT_EQ(m.Value("c"), 2);
  m.AddGauge("g", {}, 3);
  m.AddGauge("g", {}, -1);
  EXPECT_EQ(m.Value("g"), 2);
  EXPECT_EQ(m.Value("absent"), 0);
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  Metrics m("");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) m.IncCounter("c", {{"result", "success"}});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.Value("c", {{"result", "success"}}), 4000);
}

}  // namespace
}  // namespace su
