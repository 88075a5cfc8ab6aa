// Unit tests for backfills without a server: the directive (good and bad, errors naming file, line
// and field), the statement checks, and the adaptive batch size, pauses, rate and ETA on a FakeClock.
#include "reconcilers/engines/sql/sql_backfill.h"

#include <gtest/gtest.h>

#include "reconcilers/engines/sql/backfill_pacer.h"
#include "reconcilers/engines/sql/sql_prepare.h"

namespace su {
namespace {

using std::chrono::milliseconds;

Result<PreparedMigration> Prep(const std::string& sql) {
  return PrepareMigration("20260101000001", "fill", "m/20260101000001_fill.up.sql", sql);
}

TEST(BackfillDirectiveTest, ReadsTableKeyAndKnobs) {
  auto m = Prep(
      "-- lower-case emails\n"
      "-- schema-upgrade: backfill table=app.users key=id batch=500\n"
      "-- schema-upgrade: min-batch=50 max-batch=5000 batch-time=200ms pause=0 max-lag=30s adaptive=false\n"
      "UPDATE app.users SET email_lower = lower(email) WHERE id BETWEEN $1 AND $2;\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_TRUE(m->backfill.has_value());
  const BackfillSpec& b = *m->backfill;
  EXPECT_EQ(b.table, "app.users");
  EXPECT_EQ(b.key, "id");
  EXPECT_EQ(b.line, 2);
  EXPECT_EQ(b.knobs.batch, 500);
  EXPECT_EQ(b.knobs.min_batch, 50);
  EXPECT_EQ(b.knobs.max_batch, 5000);
  EXPECT_EQ(b.knobs.batch_time, milliseconds(200));
  EXPECT_EQ(b.knobs.pause, milliseconds(0));
  EXPECT_EQ(b.knobs.max_lag, milliseconds(30000));
  EXPECT_FALSE(b.knobs.adaptive);
}

TEST(BackfillDirectiveTest, DefaultsWhenOnlyTableAndKeyAreGiven) {
  auto m = Prep("-- schema-upgrade: backfill table=t key=k\nUPDATE t SET n = n + 1 WHERE k BETWEEN $1 AND $2\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_TRUE(m->backfill.has_value());
  EXPECT_EQ(m->backfill->knobs.batch, 1000);
  EXPECT_TRUE(m->backfill->knobs.adaptive);
  EXPECT_GT(m->backfill->knobs.pause.count(), 0);
}

TEST(BackfillDirectiveTest, AFileWithoutTheDirectiveIsNoBackfill) {
  auto m = Prep("UPDATE t SET n = 1;\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_FALSE(m->backfill.has_value());
}

// Each bad file is refused with the file, the line and the field named.
TEST(BackfillDirectiveTest, BadDirectivesNameFileLineAndField) {
  struct Case {
    std::string sql;
    std::vector<std::string> want;
  } cases[] = {
      {"-- schema-upgrade: backfill key=id\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\n", {":1:", "'table'", "missing"}},
      {"-- schema-upgrade: backfill table=t\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\n", {":1:", "'key'"}},
      {"--\n-- schema-upgrade: backfill table=t key=id batch=lots\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\n",
       {":2:", "'batch'", "lots"}},
      {"-- schema-upgrade: backfill table=t key=id batch=0\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\n", {"'batch'"}},
      {"-- schema-upgrade: backfill table=t key=id\n-- schema-upgrade: pause=soon\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\n",
       {":2:", "'pause'", "soon"}},
      {"-- schema-upgrade: backfill table=t key=id min-batch=500 max-batch=100\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\n",
       {"'min-batch'", "max-batch"}},
      {"-- schema-upgrade: backfill table=t key=id adaptive=maybe\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\n",
       {"'adaptive'"}},
      {"-- schema-upgrade: backfill table=t key=id batchsize=10\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\n",
       {"line 1", "unknown", "'batchsize'"}},
      {"-- schema-upgrade: table=t key=id\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\n", {"line 1", "'table'", "backfill"}},
      {"-- schema-upgrade: backfill table=t key=id\nUPDATE t SET a = 1 WHERE id > $1;\n", {":2:", "$1", "$2"}},
      {"-- schema-upgrade: backfill table=t key=id\nUPDATE t SET a = $3 WHERE id BETWEEN $1 AND $2;\n", {":2:", "no other parameter"}},
      {"-- schema-upgrade: backfill table=t key=id\nUPDATE t SET a = 1 WHERE id BETWEEN $1 AND $2;\nUPDATE t SET b = 2;\n",
       {":1:", "exactly one statement", "2"}},
  };
  for (const auto& c : cases) {
    auto m = Prep(c.sql);
    ASSERT_FALSE(m.ok()) << c.sql;
    EXPECT_EQ(m.status().code(), Code::kInvalidArgument) << c.sql;
    EXPECT_NE(m.status().message().find("m/20260101000001_fill.up.sql"), std::string::npos) << m.status().message();
    for (const auto& w : c.want) {
      EXPECT_NE(m.status().message().find(w), std::string::npos) << "want '" << w << "' in: " << m.status().message();
    }
  }
}

TEST(BackfillDirectiveTest, NoTransactionAndLintIgnoreStillWork) {
  auto m = Prep("-- schema-upgrade: no-transaction\nCREATE INDEX CONCURRENTLY i ON t(x);\n"
                "-- schema-upgrade: lint-ignore add-index-without-concurrently\nCREATE INDEX CONCURRENTLY j ON t(y);\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE(m->no_transaction);
  EXPECT_FALSE(m->backfill.has_value());
}

class PacerTest : public ::testing::Test {
 protected:
  FakeClock clock_{Clock::TimePoint{}};
  // One batch of `rows` taking `took`.
  void Batch(BackfillPacer& p, long long rows, milliseconds took, int blocked = 0) {
    p.BatchStarted();
    clock_.Advance(took);
    p.BatchFinished(rows, blocked);
  }
};

TEST_F(PacerTest, ShrinksSlowBatchesAndGrowsFastOnesWithinBounds) {
  BackfillKnobs k;
  k.batch = 1000;
  k.min_batch = 100;
  k.max_batch = 3000;
  k.batch_time = milliseconds(400);
  BackfillPacer p(k, &clock_);
  EXPECT_EQ(p.batch_size(), 1000);
  Batch(p, 1000, milliseconds(900));  // over budget: halve
  EXPECT_EQ(p.batch_size(), 500);
  Batch(p, 500, milliseconds(200));  // within budget, not fast: keep
  EXPECT_EQ(p.batch_size(), 500);
  Batch(p, 500, milliseconds(50));  // fast (< budget/4): grow by half
  EXPECT_EQ(p.batch_size(), 750);
  for (int i = 0; i < 10; ++i) Batch(p, p.batch_size(), milliseconds(10));
  EXPECT_EQ(p.batch_size(), 3000);  // capped
  for (int i = 0; i < 10; ++i) Batch(p, p.batch_size(), milliseconds(5000));
  EXPECT_EQ(p.batch_size(), 100);  // floored
}

TEST_F(PacerTest, BlockedSessionsShrinkTheBatchAndLengthenThePause) {
  BackfillKnobs k;
  k.batch = 800;
  k.pause = milliseconds(20);
  BackfillPacer p(k, &clock_);
  Batch(p, 800, milliseconds(10), /*blocked=*/2);
  EXPECT_EQ(p.batch_size(), 400);
  EXPECT_EQ(p.pause(), milliseconds(40));
  Batch(p, 400, milliseconds(200));
  EXPECT_EQ(p.pause(), milliseconds(20));  // back to normal once nobody waited
}

TEST_F(PacerTest, FixedSizeWhenNotAdaptive) {
  BackfillKnobs k;
  k.adaptive = false;
  k.batch = 700;
  BackfillPacer p(k, &clock_);
  Batch(p, 700, milliseconds(10000));
  Batch(p, 700, milliseconds(1));
  EXPECT_EQ(p.batch_size(), 700);
}

TEST_F(PacerTest, RateAndEtaFromTheRunSoFar) {
  BackfillKnobs k;
  k.adaptive = false;
  BackfillPacer p(k, &clock_);
  EXPECT_EQ(p.rate(), 0);
  EXPECT_EQ(p.EtaSeconds(10000, 0), 0);
  Batch(p, 1000, milliseconds(500));
  clock_.Advance(milliseconds(500));  // the pause counts: rate is over wall time of the run
  Batch(p, 1000, milliseconds(500));
  // 2000 rows in 1.5 s.
  EXPECT_NEAR(p.rate(), 2000 / 1.5, 0.01);
  // 10000 rows in all, 3000 done by an earlier run, 2000 by this one: 5000 left at 1333/s.
  EXPECT_EQ(p.EtaSeconds(10000, 3000), 4);
  EXPECT_EQ(p.EtaSeconds(100, 0), 0);  // estimate below what is done: nothing left
}

}  // namespace
}  // namespace su
