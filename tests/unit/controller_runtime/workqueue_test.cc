// WorkQueue: dedup, one worker per key, backoff growth/cap/reset under a FakeClock, AddAfter, shutdown.
#include "controller/runtime/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

namespace su {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

WorkQueueOptions FakeOptions(FakeClock* clock) {
  WorkQueueOptions o;
  o.clock = clock;
  o.qps = 0;  // per-key backoff only, so the numbers below are exact
  o.poll_interval = milliseconds(5);
  return o;
}

TEST(WorkQueueTest, AddingAQueuedKeyAgainQueuesItOnce) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueue q(FakeOptions(&clock));
  q.Add("a");
  q.Add("b");
  q.Add("a");
  q.Add("a");
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(q.Get(), "a");
  EXPECT_EQ(q.Get(), "b");
  EXPECT_EQ(q.GetFor(milliseconds(20)), std::nullopt);
}

TEST(WorkQueueTest, KeyReaddedWhileProcessingIsRequeuedOnlyAfterDone) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueue q(FakeOptions(&clock));
  q.Add("a");
  ASSERT_EQ(q.Get(), "a");
  q.Add("a");
  q.Add("a");
  EXPECT_EQ(q.Len(), 0u) << "a second worker must not receive a key being processed";
  EXPECT_EQ(q.GetFor(milliseconds(20)), std::nullopt);
  q.Done("a");
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(q.Get(), "a");
  q.Done("a");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, NeverGivesOneKeyToTwoWorkersAtOnce) {
  WorkQueueOptions o;
  o.qps = 0;
  WorkQueue q(o);
  constexpr int kKeys = 5;
  std::mutex mu;
  std::map<std::string, int> active, max_active, processed;
  std::vector<std::thread> workers;
  for (int w = 0; w < 8; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.Get()) {
        {
          std::lock_guard<std::mutex> l(mu);
          int n = ++active[*key];
          max_active[*key] = std::max(max_active[*key], n);
          ++processed[*key];
        }
        std::this_thread::yield();
        {
          std::lock_guard<std::mutex> l(mu);
          --active[*key];
        }
        q.Done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < 2000; ++i) q.Add("k" + std::to_string((i + p) % kKeys));
    });
  }
  for (auto& t : producers) t.join();
  // Every key added must be processed at least once after its last Add; wait until idle.
  for (int i = 0; i < 5000 && (q.Len() > 0 || q.NumProcessing() > 0); ++i) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  q.ShutDownWithDrain();
  for (auto& t : workers) t.join();
  ASSERT_EQ(max_active.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, n] : max_active) {
    EXPECT_EQ(n, 1) << key;
    EXPECT_GE(processed[key], 1) << key;
  }
}

TEST(WorkQueueTest, BackoffDoublesPerKeyUpToMaxAndForgetResetsIt) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueueOptions o = FakeOptions(&clock);
  o.default_backoff = Backoff{seconds(5), seconds(60)};
  WorkQueue q(o);
  std::vector<long> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(q.AddRateLimited("a").count());
  EXPECT_EQ(delays, (std::vector<long>{5000, 10000, 20000, 40000, 60000, 60000}));
  EXPECT_EQ(q.NumRequeues("a"), 6);
  // Another key has its own count.
  EXPECT_EQ(q.AddRateLimited("b"), seconds(5));
  EXPECT_EQ(q.AddRateLimited("b"), seconds(10));
  q.Forget("a");
  EXPECT_EQ(q.NumRequeues("a"), 0);
  EXPECT_EQ(q.AddRateLimited("a"), seconds(5));
  EXPECT_EQ(q.NumRequeues("b"), 2);
}

TEST(WorkQueueTest, DefaultBackoffIsClientGosFiveMillisecondsToThousandSeconds) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueue q(FakeOptions(&clock));
  milliseconds last{0};
  for (int i = 0; i < 100; ++i) last = q.AddRateLimited("a");
  EXPECT_EQ(last, seconds(1000));
}

TEST(WorkQueueTest, RateLimitedKeyBecomesReadyWhenTheFakeClockPassesItsTime) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueueOptions o = FakeOptions(&clock);
  o.default_backoff = Backoff{seconds(10), seconds(100)};
  WorkQueue q(o);
  q.AddRateLimited("a");
  EXPECT_EQ(q.NumDelayed(), 1u);
  EXPECT_EQ(q.GetFor(milliseconds(20)), std::nullopt);
  clock.Advance(seconds(9));
  EXPECT_EQ(q.GetFor(milliseconds(20)), std::nullopt);
  clock.Advance(seconds(1));
  EXPECT_EQ(q.GetFor(seconds(5)), "a");
  EXPECT_EQ(q.NumDelayed(), 0u);
}

TEST(WorkQueueTest, AddAfterWakesABlockedGetOnTick) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueueOptions o = FakeOptions(&clock);
  o.poll_interval = seconds(3600);  // only Tick can wake the waiter in time
  WorkQueue q(o);
  q.AddAfter("a", seconds(30));
  q.AddAfter("a", seconds(60));  // the earlier time wins
  std::optional<std::string> got;
  std::thread t([&] { got = q.GetFor(seconds(5)); });
  clock.Advance(seconds(30));
  // Tick until the waiter has taken the key; it may not be waiting yet on the first Tick.
  for (int i = 0; i < 5000 && q.NumDelayed() > 0; ++i) {
    q.Tick();
    std::this_thread::sleep_for(milliseconds(1));
  }
  t.join();
  EXPECT_EQ(got, "a");
}

TEST(WorkQueueTest, AddAfterWithoutDelayAddsAtOnce) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueue q(FakeOptions(&clock));
  q.AddAfter("a", milliseconds(0));
  EXPECT_EQ(q.Len(), 1u);
}

TEST(WorkQueueTest, RealClockDelayElapses) {
  WorkQueue q;
  q.AddAfter("a", milliseconds(20));
  EXPECT_EQ(q.GetFor(seconds(5)), "a");
}

TEST(WorkQueueTest, OverallBucketDelaysBurstsBeyondItsSize) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueueOptions o = FakeOptions(&clock);
  o.qps = 10;
  o.burst = 3;
  WorkQueue q(o);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.AddRateLimited("k" + std::to_string(i)), milliseconds(5));
  // The fourth distinct key has no per-key history but must wait for a token (100 ms at 10 qps).
  EXPECT_EQ(q.AddRateLimited("k3"), milliseconds(100));
  clock.Advance(seconds(10));
  EXPECT_EQ(q.AddRateLimited("k4"), milliseconds(5));
}

TEST(WorkQueueTest, ShutDownWakesBlockedGetAndIgnoresLaterAdds) {
  WorkQueue q;
  std::optional<std::string> got = "unset";
  std::thread t([&] { got = q.Get(); });
  q.ShutDown();
  t.join();
  EXPECT_EQ(got, std::nullopt);
  q.Add("a");
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_TRUE(q.ShuttingDown());
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForKeysInFlight) {
  WorkQueue q;
  q.Add("a");
  q.Add("b");
  ASSERT_EQ(q.Get(), "a");
  std::atomic<bool> done{false};
  std::thread worker([&] {
    std::this_thread::sleep_for(milliseconds(50));
    done = true;
    q.Done("a");
  });
  q.ShutDownWithDrain();
  EXPECT_TRUE(done) << "drain returned before the key in flight was Done";
  EXPECT_EQ(q.Get(), std::nullopt) << "no new keys after shutdown";
  worker.join();
}

TEST(WorkQueueTest, ChangeKeysGoAheadOfResyncKeys) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueue q(FakeOptions(&clock));
  q.AddResync("r1");
  q.AddResync("r2");
  q.Add("c1");
  EXPECT_EQ(q.Len(), 3u);
  EXPECT_EQ(q.LenResync(), 2u);
  EXPECT_EQ(q.Get(), "c1");
  EXPECT_EQ(q.Get(), "r1");
  EXPECT_EQ(q.Get(), "r2");
}

TEST(WorkQueueTest, AChangeToAKeyQueuedByAResyncMovesItAheadOnce) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueue q(FakeOptions(&clock));
  q.AddResync("r1");
  q.AddResync("r2");
  q.Add("r2");
  q.AddResync("r2");  // a later resync does not send it back
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(q.LenResync(), 1u);
  EXPECT_EQ(q.Get(), "r2");
  EXPECT_EQ(q.Get(), "r1");
  EXPECT_EQ(q.GetFor(milliseconds(20)), std::nullopt) << "r2 must not come out a second time";
}

TEST(WorkQueueTest, ADueRetryGoesAheadOfResyncKeys) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueue q(FakeOptions(&clock));
  q.AddAfter("retry", seconds(5));
  for (int i = 0; i < 3; ++i) q.AddResync("r" + std::to_string(i));
  clock.Advance(seconds(5));
  EXPECT_EQ(q.Get(), "retry");
  EXPECT_EQ(q.Get(), "r0");
}

TEST(WorkQueueTest, AKeyResyncedWhileProcessingIsRequeuedBehindChangesAndNeverHandedOutTwice) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueue q(FakeOptions(&clock));
  q.AddResync("k");
  q.Add("k");  // moved ahead; its resync entry is stale
  ASSERT_EQ(q.Get(), "k");
  q.AddResync("k");  // while processing: pending resync work
  q.Add("c");
  EXPECT_EQ(q.Get(), "c");
  EXPECT_EQ(q.GetFor(milliseconds(20)), std::nullopt) << "k is still being processed";
  q.Done("k");
  q.Done("c");
  EXPECT_EQ(q.LenResync(), 1u);
  EXPECT_EQ(q.Get(), "k");
  q.Done("k");
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_EQ(q.GetFor(milliseconds(20)), std::nullopt);
}

TEST(WorkQueueTest, ResyncKeysAreNotStarvedByAStreamOfChanges) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueueOptions o = FakeOptions(&clock);
  o.high_burst = 3;
  WorkQueue q(o);
  q.AddResync("r0");
  q.AddResync("r1");
  for (int i = 0; i < 10; ++i) q.Add("c" + std::to_string(i));
  std::vector<std::string> order;
  while (q.Len() > 0) {
    auto k = q.Get();
    ASSERT_TRUE(k);
    order.push_back(*k);
    q.Done(*k);
  }
  std::vector<std::string> want = {"c0", "c1", "c2", "r0", "c3", "c4", "c5", "r1", "c6", "c7", "c8", "c9"};
  EXPECT_EQ(order, want);
}

// Delays are monotonic: the wall clock stepping an hour either way neither fires a delayed key
// early nor holds it back; only time passing does.
TEST(WorkQueueTest, DelayedKeyIgnoresWallClockSteps) {
  for (auto step : {std::chrono::hours(1), -std::chrono::hours(1)}) {
    FakeClock clock(Clock::TimePoint{} + std::chrono::hours(48));
    WorkQueue q(FakeOptions(&clock));
    q.AddAfter("a", seconds(10));
    clock.JumpWall(step);
    q.Tick();
    EXPECT_EQ(q.GetFor(milliseconds(20)), std::nullopt) << "fired by a wall-clock step of " << step.count() << " h";
    clock.Advance(seconds(9));
    q.Tick();
    EXPECT_EQ(q.GetFor(milliseconds(20)), std::nullopt);
    clock.Advance(seconds(1));
    q.Tick();
    EXPECT_EQ(q.GetFor(milliseconds(1000)), "a") << "held back by a wall-clock step of " << step.count() << " h";
  }
}

// Each key is held once, in whatever states it is in at the same time, and dropped once it has
// none: after a resync of every key, changes, retries and Forget, nothing is left behind.
TEST(WorkQueueTest, KeysAreHeldOnceAndDroppedWhenTheyHaveNoState) {
  FakeClock clock(Clock::TimePoint{});
  WorkQueue q(FakeOptions(&clock));
  for (int i = 0; i < 100; ++i) q.AddResync("ns/k" + std::to_string(i));
  for (int i = 0; i < 50; ++i) q.Add("ns/k" + std::to_string(i));  // moved ahead, one entry each
  EXPECT_EQ(q.NumKeys(), 100u);
  EXPECT_EQ(q.Len(), 100u);
  EXPECT_EQ(q.LenResync(), 50u);
  auto first = q.Get();
  ASSERT_TRUE(first);
  q.AddResync(*first);  // processing and dirty again: still one key
  q.AddRateLimited("ns/k99");
  EXPECT_EQ(q.NumKeys(), 100u);
  q.Done(*first);
  while (q.Len() > 0) {
    auto k = q.Get();
    ASSERT_TRUE(k);
    q.Done(*k);
  }
  EXPECT_EQ(q.NumKeys(), 1u) << "only the key with a pending retry and a failure count is left";
  clock.Advance(seconds(10));
  auto retried = q.GetFor(seconds(5));
  ASSERT_EQ(retried, "ns/k99");
  q.Done(*retried);
  EXPECT_EQ(q.NumKeys(), 1u) << "its failure count stays until Forget";
  q.Forget("ns/k99");
  EXPECT_EQ(q.NumKeys(), 0u);
}

}  // namespace
}  // namespace su
