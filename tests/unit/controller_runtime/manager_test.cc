// Manager: reconcile outcomes drive the queue (an error retries with backoff and is never given up
// on, success forgets the backoff, requeue_after schedules), keys are never reconciled concurrently,
// Stop lets in-flight passes finish.
#include "controller/runtime/manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace su {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls cond (real time) for up to 5 s; the only kind of waiting these tests do.
template <typename F>
bool Eventually(F cond) {
  for (int i = 0; i < 5000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return cond();
}

ManagerOptions FakeClockOptions(FakeClock* clock, Metrics* metrics = nullptr) {
  ManagerOptions o;
  o.workers = 3;
  o.queue.clock = clock;
  o.queue.qps = 0;
  o.queue.poll_interval = milliseconds(2);
  o.metrics = metrics;
  return o;
}

TEST(ManagerTest, ErroringKeyIsRetriedWithBackoffAndNeverGivenUp) {
  FakeClock clock(Clock::TimePoint{});
  Metrics metrics;
  std::atomic<int> calls{0};
  ManagerOptions o = FakeClockOptions(&clock, &metrics);
  o.queue.default_backoff = Backoff{seconds(5), seconds(20)};
  Manager m([&](const std::string&) -> Result<ReconcileResult> {
    ++calls;
    return Status::Failed("database unreachable");
  }, o);
  ASSERT_TRUE(m.Start().ok());
  m.Enqueue("ns/a");
  ASSERT_TRUE(Eventually([&] { return calls == 1 && m.queue().NumDelayed() == 1; }));
  // Not before the backoff (5 s) has passed on the clock.
  clock.Advance(seconds(4));
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(calls, 1);
  clock.Advance(seconds(1));
  ASSERT_TRUE(Eventually([&] { return calls == 2 && m.queue().NumDelayed() == 1; }));
  clock.Advance(seconds(10));  // second backoff: 10 s
  ASSERT_TRUE(Eventually([&] { return calls == 3 && m.queue().NumDelayed() == 1; }));
  // The backoff is capped (20 s) and the key is retried however often it failed.
  for (int i = 4; i <= 6; ++i) {
    clock.Advance(seconds(20));
    ASSERT_TRUE(Eventually([&] { return calls == i && m.queue().NumDelayed() == 1; })) << "retry " << i;
  }
  // A change to its source runs it at once, with a fresh backoff.
  m.Enqueue("ns/a");
  ASSERT_TRUE(Eventually([&] { return calls == 7 && m.queue().NumRequeues("ns/a") == 1; }));
  m.Stop();
  EXPECT_EQ(metrics.Value(kReconcilesTotal, {{"result", "error"}}), 7);
  EXPECT_EQ(metrics.Value(kReconcileDurationSeconds), 7);
}

TEST(ManagerTest, SuccessForgetsTheBackoff) {
  FakeClock clock(Clock::TimePoint{});
  std::atomic<int> calls{0};
  Manager m([&](const std::string&) -> Result<ReconcileResult> {
    if (++calls == 1) return Status::Failed("transient");
    return ReconcileResult{};
  }, FakeClockOptions(&clock));
  ASSERT_TRUE(m.Start().ok());
  m.Enqueue("a");
  ASSERT_TRUE(Eventually([&] { return m.queue().NumRequeues("a") == 1; }));
  clock.Advance(seconds(1));
  ASSERT_TRUE(Eventually([&] { return calls == 2 && m.queue().NumRequeues("a") == 0; }));
  m.Stop();
}

TEST(ManagerTest, RequeueAfterSchedulesTheNextPass) {
  FakeClock clock(Clock::TimePoint{});
  Metrics metrics;
  std::atomic<int> calls{0};
  Manager m([&](const std::string&) -> Result<ReconcileResult> {
    ++calls;
    return ReconcileResult{std::chrono::minutes(10)};
  }, FakeClockOptions(&clock, &metrics));
  ASSERT_TRUE(m.Start().ok());
  m.Enqueue("a");
  ASSERT_TRUE(Eventually([&] { return calls == 1 && m.queue().NumDelayed() == 1; }));
  clock.Advance(std::chrono::minutes(9));
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(calls, 1);
  clock.Advance(std::chrono::minutes(1));
  ASSERT_TRUE(Eventually([&] { return calls == 2; }));
  m.Stop();
  EXPECT_GE(metrics.Value(kReconcilesTotal, {{"result", "requeue_after"}}), 2);
  EXPECT_EQ(m.queue().NumRequeues("a"), 0);
}

TEST(ManagerTest, ExceptionInReconcileCountsAsErrorAndKeepsWorkersAlive) {
  FakeClock clock(Clock::TimePoint{});
  Metrics metrics;
  std::atomic<int> calls{0};
  ManagerOptions o = FakeClockOptions(&clock, &metrics);
  o.workers = 1;
  Manager m([&](const std::string& key) -> Result<ReconcileResult> {
    ++calls;
    if (key == "bad") throw std::runtime_error("boom");
    return ReconcileResult{};
  }, o);
  ASSERT_TRUE(m.Start().ok());
  m.Enqueue("bad");
  // Backed off like any error, to be retried (the clock does not move, so not yet).
  ASSERT_TRUE(Eventually([&] { return calls == 1 && m.queue().NumRequeues("bad") == 1; }));
  m.Enqueue("good");  // the only worker survived the exception
  ASSERT_TRUE(Eventually([&] { return calls == 2; }));
  m.Stop();
  EXPECT_EQ(metrics.Value(kReconcilesTotal, {{"result", "error"}}), 1);
  EXPECT_EQ(metrics.Value(kReconcilesTotal, {{"result", "success"}}), 1);
}

TEST(ManagerTest, OneKeyIsNeverReconciledConcurrently) {
  std::mutex mu;
  std::map<std::string, int> active, max_active, calls;
  ManagerOptions o;
  o.workers = 6;
  Manager m([&](const std::string& key) -> Result<ReconcileResult> {
    {
      std::lock_guard<std::mutex> l(mu);
      max_active[key] = std::max(max_active[key], ++active[key]);
      ++calls[key];
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::lock_guard<std::mutex> l(mu);
    --active[key];
    return ReconcileResult{};
  }, o);
  ASSERT_TRUE(m.Start().ok());
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < 500; ++i) m.Enqueue("k" + std::to_string(i % 4));
    });
  }
  for (auto& t : producers) t.join();
  ASSERT_TRUE(Eventually([&] { return m.queue().Len() == 0 && m.queue().NumProcessing() == 0; }));
  m.Stop();
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(max_active.size(), 4u);
  for (const auto& [key, n] : max_active) EXPECT_EQ(n, 1) << key;
}

TEST(ManagerTest, StopLetsTheReconcileInFlightFinishAndSignalsIt) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  std::atomic<bool> saw_stop{false}, finished{false};
  std::atomic<int> calls{0};
  ManagerOptions o;
  o.workers = 1;
  Manager* self = nullptr;
  Manager m([&](const std::string&) -> Result<ReconcileResult> {
    ++calls;
    {
      std::lock_guard<std::mutex> l(mu);
      entered = true;
    }
    cv.notify_all();
    // A long step that polls for cancellation, as a migration wait loop would.
    std::stop_token token = self->StopToken();
    for (int i = 0; i < 5000 && !token.stop_requested(); ++i) std::this_thread::sleep_for(milliseconds(1));
    saw_stop = self->Stopping();
    finished = true;
    return Status::Error(Code::kCancelled, "stopping");
  }, o);
  self = &m;
  ASSERT_TRUE(m.Start().ok());
  m.Enqueue("a");
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, seconds(5), [&] { return entered; }));
  }
  m.Enqueue("b");  // queued but must not start once stopping
  m.Stop();
  EXPECT_TRUE(finished);
  EXPECT_TRUE(saw_stop);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(m.Start().ok());
}

TEST(ManagerTest, QueueDepthGaugeReadsTheQueue) {
  Metrics metrics;
  ManagerOptions o;
  o.metrics = &metrics;
  Manager m([](const std::string&) -> Result<ReconcileResult> { return ReconcileResult{}; }, o);
  m.Enqueue("a");
  m.Enqueue("b");
  EXPECT_EQ(metrics.Value(kQueueDepth), 2);
  EXPECT_NE(metrics.Render().find("schema_upgrade_queue_depth 2\n"), std::string::npos);
}

// Records the order of passes; a pass of `gate` blocks until Open(). No timing: the test waits on
// the recorder's condition variable for what it needs to have happened.
class OrderRecorder {
 public:
  explicit OrderRecorder(std::string gate) : gate_(std::move(gate)) {}
  Result<ReconcileResult> Reconcile(const std::string& key) {
    std::unique_lock<std::mutex> l(mu_);
    order_.push_back(key);
    cv_.notify_all();
    if (key == gate_) cv_.wait(l, [&] { return open_; });
    if (on_pass_) {
      auto f = on_pass_;
      l.unlock();
      f(key);
    }
    return ReconcileResult{};
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits (bounded, as a safety net only) until n passes have started.
  bool WaitForPasses(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(60), [&] { return order_.size() >= n; });
  }
  std::vector<std::string> order() {
    std::lock_guard<std::mutex> l(mu_);
    return order_;
  }
  void OnPass(std::function<void(const std::string&)> f) { on_pass_ = std::move(f); }

 private:
  const std::string gate_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> order_;
  bool open_ = false;
  std::function<void(const std::string&)> on_pass_;
};

std::string ResyncKey(int i) {
  char b[16];
  std::snprintf(b, sizeof b, "ns/r%04d", i);
  return b;
}

TEST(ManagerTest, AChangedKeyGoesAheadOfAThousandResyncKeys) {
  OrderRecorder rec("ns/busy");
  ManagerOptions o;
  o.workers = 1;
  o.queue.qps = 0;
  Manager m([&](const std::string& k) { return rec.Reconcile(k); }, o);
  ASSERT_TRUE(m.Start().ok());
  m.Enqueue("ns/busy");  // holds the only worker while the queue fills
  ASSERT_TRUE(rec.WaitForPasses(1));
  for (int i = 0; i < 1000; ++i) m.Resync(ResyncKey(i));
  m.Enqueue("ns/edited");
  EXPECT_EQ(m.queue().Len(), 1001u);
  rec.Open();
  ASSERT_TRUE(rec.WaitForPasses(1002));
  m.Stop();
  auto order = rec.order();
  ASSERT_EQ(order.size(), 1002u);
  EXPECT_EQ(order[1], "ns/edited") << "the edit waited behind resync work";
  // Every resync key still ran, once, in the order the resync queued them.
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(order[2 + i], ResyncKey(i));
}

TEST(ManagerTest, ResyncWorkCompletesDuringAnEndlessStreamOfChanges) {
  OrderRecorder rec("ns/busy");
  ManagerOptions o;
  o.workers = 1;
  o.queue.qps = 0;
  o.queue.high_burst = 10;
  std::atomic<int> next_change{0};
  Manager* mp = nullptr;
  // Every change pass causes the next change (a watch that never goes quiet), up to 2000.
  rec.OnPass([&](const std::string& k) {
    if (k.rfind("ns/c", 0) == 0 || k == "ns/busy") {
      int n = next_change++;
      if (n < 2000) mp->Enqueue("ns/c" + std::to_string(n));
    }
  });
  Manager m([&](const std::string& k) { return rec.Reconcile(k); }, o);
  mp = &m;
  ASSERT_TRUE(m.Start().ok());
  m.Enqueue("ns/busy");
  ASSERT_TRUE(rec.WaitForPasses(1));
  for (int i = 0; i < 50; ++i) m.Resync(ResyncKey(i));
  rec.Open();
  ASSERT_TRUE(rec.WaitForPasses(1 + 50 + 2000));
  m.Stop();
  auto order = rec.order();
  // All 50 resync keys ran while changes kept coming: at most high_burst changes between two of
  // them, so the last one ran long before the stream ended.
  int last_resync = -1, since = 0, max_between = 0, seen = 0;
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i].rfind("ns/r", 0) == 0) {
      ++seen;
      last_resync = static_cast<int>(i);
      max_between = std::max(max_between, since);
      since = 0;
    } else if (seen < 50) {
      ++since;
    }
  }
  EXPECT_EQ(seen, 50);
  EXPECT_LE(max_between, 10);
  EXPECT_LT(last_resync, 1 + 50 * 11 + 1);
}

}  // namespace
}  // namespace su
