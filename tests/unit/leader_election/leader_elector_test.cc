// The LeaderElector seam: AlwaysLeader (today's single controller) and the fake the runtime's unit
// tests drive.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "controller/runtime/leader_elector.h"
#include "tests/support/fakes/fake_leader_elector.h"

namespace su {
namespace {

TEST(AlwaysLeaderTest, LeadsAtOnceUntilReleased) {
  AlwaysLeader e("host-a");
  EXPECT_FALSE(e.IsLeader());
  ASSERT_TRUE(e.WaitForLeadership({}).ok());
  EXPECT_TRUE(e.IsLeader());
  EXPECT_FALSE(e.LostToken().stop_requested());
  LeaderState s = e.State();
  EXPECT_EQ(s.identity, "host-a");
  EXPECT_EQ(s.holder, "host-a");
  EXPECT_TRUE(s.leading);

  std::atomic<bool> fired{false};
  std::stop_callback cb(e.LostToken(), [&] { fired = true; });
  ASSERT_TRUE(e.Release().ok());
  EXPECT_TRUE(fired);
  EXPECT_FALSE(e.IsLeader());
  EXPECT_EQ(e.State().holder, "");
  EXPECT_TRUE(e.Release().ok());  // idempotent
  EXPECT_EQ(e.WaitForLeadership({}).code(), Code::kCancelled);
}

TEST(AlwaysLeaderTest, StopBeforeLeadingIsCancelled) {
  AlwaysLeader e;
  std::stop_source stop;
  stop.request_stop();
  EXPECT_EQ(e.WaitForLeadership(stop.get_token()).code(), Code::kCancelled);
  EXPECT_FALSE(e.IsLeader());
  ASSERT_TRUE(e.Release().ok());
  EXPECT_FALSE(e.LostToken().stop_requested());  // never led, so never lost
}

TEST(FakeLeaderElectorTest, WaitBlocksUntilGrantedAndLoseFiresTheToken) {
  testing::FakeLeaderElector e("pod-a");
  std::atomic<int> result{-1};
  std::thread t([&] { result = static_cast<int>(e.WaitForLeadership({}).code()); });
  while (e.wait_calls() == 0) std::this_thread::yield();
  EXPECT_EQ(result.load(), -1);
  e.Grant();
  t.join();
  EXPECT_EQ(result.load(), static_cast<int>(Code::kOk));
  EXPECT_TRUE(e.IsLeader());
  e.Lose("pod-b");
  EXPECT_TRUE(e.LostToken().stop_requested());
  EXPECT_EQ(e.State().holder, "pod-b");
  EXPECT_FALSE(e.IsLeader());
}

TEST(FakeLeaderElectorTest, StopEndsTheWait) {
  testing::FakeLeaderElector e;
  std::stop_source stop;
  std::thread t([&] { stop.request_stop(); });
  EXPECT_EQ(e.WaitForLeadership(stop.get_token()).code(), Code::kCancelled);
  t.join();
}

}  // namespace
}  // namespace su
