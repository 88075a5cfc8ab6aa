// ShutdownSignal: SIGTERM/SIGINT become a stop request; a second signal forces exit; handlers restored.
#include "controller/runtime/signals.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>

namespace su {
namespace {

using std::chrono::seconds;

TEST(ShutdownSignalTest, SigtermRequestsStopAndWakesWaiters) {
  std::atomic<int> seen{0};
  auto s = ShutdownSignal::Install([&](int signo) { seen = signo; });
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE((*s)->StopRequested());
  std::stop_token token = (*s)->Token();
  ASSERT_EQ(::raise(SIGTERM), 0);
  ASSERT_TRUE((*s)->WaitFor(seconds(5)));
  EXPECT_TRUE(token.stop_requested());
  EXPECT_EQ((*s)->Signal(), SIGTERM);
  for (int i = 0; i < 5000 && seen == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(seen, SIGTERM);
}

TEST(ShutdownSignalTest, SigintToo) {
  auto s = ShutdownSignal::Install({}, /*force_on_second=*/false);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(::raise(SIGINT), 0);
  (*s)->Wait();
  EXPECT_EQ((*s)->Signal(), SIGINT);
  // Without force_on_second, more signals are harmless.
  ASSERT_EQ(::raise(SIGINT), 0);
  EXPECT_TRUE((*s)->StopRequested());
}

TEST(ShutdownSignalTest, RequestStopWithoutASignal) {
  auto s = ShutdownSignal::Install();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE((*s)->WaitFor(std::chrono::milliseconds(1)));
  (*s)->RequestStop();
  EXPECT_TRUE((*s)->WaitFor(seconds(5)));
  EXPECT_EQ((*s)->Signal(), 0);
}

TEST(ShutdownSignalTest, OneInstallAtATimeAndHandlersAreRestored) {
  struct sigaction before {};
  ::sigaction(SIGTERM, nullptr, &before);
  {
    auto s = ShutdownSignal::Install();
    ASSERT_TRUE(s.ok());
    EXPECT_FALSE(ShutdownSignal::Install().ok());
    struct sigaction during {};
    ::sigaction(SIGTERM, nullptr, &during);
    EXPECT_NE(during.sa_handler, before.sa_handler);
  }
  struct sigaction after {};
  ::sigaction(SIGTERM, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
  auto again = ShutdownSignal::Install();
  EXPECT_TRUE(again.ok());
}

TEST(ShutdownSignalDeathTest, SecondSignalExitsAtOnceWithCodeOne) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto s = ShutdownSignal::Install();
        ::raise(SIGTERM);
        ::raise(SIGTERM);
        std::this_thread::sleep_for(seconds(5));  // not reached: the second raise exits
        std::exit(0);
      },
      ::testing::ExitedWithCode(1), "second signal");
}

}  // namespace
}  // namespace su
