// controller/cli/progress.h: the backfill progress line `apply` draws (bar, rows, rate, ETA).
#include "controller/cli/progress.h"

#include <gtest/gtest.h>

namespace su {
namespace {

TEST(BackfillLineTest, ShowsBarRowsRateBatchAndEta) {
  Progress p;
  p.event = Progress::Event::kBackfill;
  p.rows_done = 250000;
  p.rows_total = 1000000;
  p.rows_per_second = 8012.4;
  p.batch_size = 2250;
  p.eta_seconds = 94;
  EXPECT_EQ(BackfillLine(p), "[#####...............] 25% 250.0k/~1.0M rows  8012 rows/s  batch 2250  ETA 1m34s");
  p.eta_seconds = 7260;
  EXPECT_NE(BackfillLine(p).find("ETA 2h01m"), std::string::npos) << BackfillLine(p);
}

TEST(BackfillLineTest, UnknownTotalAndThrottleMessage) {
  Progress p;
  p.event = Progress::Event::kBackfill;
  p.rows_done = 12;
  p.batch_size = 10;
  p.message = "throttled: replication lag 12000ms above max-lag 10000ms";
  EXPECT_EQ(BackfillLine(p), "12/? rows  0 rows/s  batch 10  (throttled: replication lag 12000ms above max-lag 10000ms)");
  p.rows_total = 10;
  p.rows_done = 30;  // the estimate was low: never more than 100%
  EXPECT_EQ(BackfillLine(p).substr(0, 27), "[####################] 100%");
}

}  // namespace
}  // namespace su
