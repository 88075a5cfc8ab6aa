// Backfill gauges: one series per running backfill, labelled with the resource, gone when it ends.
#include "controller/runtime/backfill_metrics.h"

#include <gtest/gtest.h>

namespace su {
namespace {

TEST(BackfillMetricsTest, ShowsTheRunningBackfillPerResourceAndRemovesItWhenItEnds) {
  Metrics m;
  DescribeBackfillMetrics(&m);
  BackfillGauges a{2500, 10000, 812.5};
  ShowBackfill(&m, "shop/orders", &a);
  BackfillGauges b{10, 50, 3};
  ShowBackfill(&m, "shop/users", &b);
  const std::string text = m.Render();
  EXPECT_NE(text.find("# HELP schema_upgrade_backfill_rows_done Rows done by the running backfill"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE schema_upgrade_backfill_rows_done gauge\n"
                      "schema_upgrade_backfill_rows_done{resource=\"shop/orders\"} 2500\n"
                      "schema_upgrade_backfill_rows_done{resource=\"shop/users\"} 10\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("schema_upgrade_backfill_rows_total{resource=\"shop/orders\"} 10000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("schema_upgrade_backfill_rows_per_second{resource=\"shop/orders\"} 812.5\n"), std::string::npos)
      << text;

  a.rows_done = 5000;
  ShowBackfill(&m, "shop/orders", &a);
  EXPECT_EQ(m.Value(kBackfillRowsDone, {{"resource", "shop/orders"}}), 5000);

  // The orders backfill ends: its three series go, the users one stays.
  ShowBackfill(&m, "shop/orders", nullptr);
  const std::string after = m.Render();
  EXPECT_EQ(after.find("shop/orders"), std::string::npos) << after;
  EXPECT_NE(after.find("schema_upgrade_backfill_rows_done{resource=\"shop/users\"} 10\n"), std::string::npos) << after;
  ShowBackfill(&m, "shop/users", nullptr);
  EXPECT_EQ(m.Render().find("resource="), std::string::npos) << m.Render();
  ShowBackfill(&m, "shop/none", nullptr);  // removing what is not there is harmless
}

}  // namespace
}  // namespace su
