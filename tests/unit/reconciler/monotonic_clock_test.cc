// Waits are measured on the monotonic clock: the wall clock stepping backwards or forwards (NTP,
// a resumed VM, someone setting the date) neither ends a wait early nor stretches it. Each case
// steps the fake wall clock by an hour during the wait and checks the wait ended after exactly its
// length of monotonic time: the migration lock wait, the verify settle time, the backoff between
// reconcile passes. (The work queue's delays: tests/unit/manager/workqueue_test.cc.)
#include <gtest/gtest.h>

#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/runtimes/podman/verify.h"
#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Time passes as asked (both readings); on the first sleep the wall clock also steps by `step`.
class SteppingClock : public Clock {
 public:
  SteppingClock(FakeClock* base, milliseconds step) : base_(base), step_(step) {}
  TimePoint Now() override { return base_->Now(); }
  MonoTimePoint MonotonicNow() override { return base_->MonotonicNow(); }
  void SleepFor(milliseconds d) override {
    base_->Advance(d);
    if (sleeps_++ == 0) base_->JumpWall(step_);
  }
  int sleeps() const { return sleeps_; }

 private:
  FakeClock* base_;
  milliseconds step_;
  int sleeps_ = 0;
};

class MonotonicWaitTest : public ReconcilerFixture, public ::testing::WithParamInterface<int> {
 protected:
  milliseconds Step() const { return hours(GetParam()); }
};

TEST_P(MonotonicWaitTest, MigrationLockWaitEndsAfterItsLengthWhateverTheWallClockDoes) {
  db_.lock_available = false;  // another session holds it for ever
  auto session = db_.Connect("dsn", "test");
  ASSERT_TRUE(session.ok());
  SteppingClock clock(&clock_, Step());
  const auto start = clock.MonotonicNow();
  auto lock = MigrationLock::Acquire(session->get(), 42, seconds(10), &clock, seconds(1));
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), Code::kLockBusy);
  EXPECT_EQ(clock.MonotonicNow() - start, seconds(10)) << "polls: " << clock.sleeps();
  EXPECT_EQ(clock.sleeps(), 10);
}

TEST_P(MonotonicWaitTest, VerifySettleTimeEndsAfterItsLengthWhateverTheWallClockDoes) {
  rt_.running_image = kNewImage;
  rt_.declared = kNewImage;
  SteppingClock clock(&clock_, Step());
  VerifyOptions o;
  o.settle = seconds(30);
  o.poll_interval = seconds(1);
  const auto start = clock.MonotonicNow();
  Status s = VerifyRunning(&rt_, su_.workload, kNewImage, o, &clock);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(clock.MonotonicNow() - start, seconds(30));
  EXPECT_EQ(rt_.observes, 31) << "one observation per poll, the last one after 30 s of settling";
}

// A transient failure backs off 5 s; the wall clock then steps back an hour. The next pass, 5 s
// (monotonic) later as the controller's work queue brings it, retries instead of reporting "backing
// off" for an hour more.
TEST_F(ReconcilerFixture, BackoffIsNotStretchedWhenTheWallClockStepsBack) {
  db_.connect_results = {Status::Error(Code::kUnavailable, "connection refused")};
  auto first = Run();
  ASSERT_EQ(first.requeue_after, seconds(5));
  ASSERT_EQ(db_.connects(), 1);
  clock_.Advance(seconds(5));
  clock_.JumpWall(-hours(1));
  auto second = Run();
  EXPECT_EQ(db_.connects(), 2) << "the pass must try again, not wait for the wall clock: "
                               << second.result.ToString();
  EXPECT_TRUE(second.result.ok()) << second.result.ToString();
}

// Within its backoff a pass still waits (the check is not simply gone), whatever the wall clock says
// about the remaining time, as long as it is not more than the backoff itself.
TEST_F(ReconcilerFixture, BackoffStillHoldsWithinItsLength) {
  db_.connect_results = {Status::Error(Code::kUnavailable, "connection refused")};
  ASSERT_EQ(Run().requeue_after, seconds(5));
  clock_.Advance(seconds(2));
  auto early = Run();
  EXPECT_EQ(db_.connects(), 1);
  EXPECT_EQ(early.requeue_after, seconds(3));
}

INSTANTIATE_TEST_SUITE_P(WallClockSteps, MonotonicWaitTest, ::testing::Values(-1, 1),
                         [](const ::testing::TestParamInfo<int>& i) { return i.param < 0 ? "Backwards" : "Forwards"; });

}  // namespace
}  // namespace su::testing
