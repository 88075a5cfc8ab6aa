// MemoryTrimmer (controller/runtime/memory_trim.h): trims at most once per interval.
#include "controller/runtime/memory_trim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

namespace su {
namespace {

TEST(MemoryTrimmer, TrimsTheFirstTimeThenNotAgainWithinTheInterval) {
  MemoryTrimmer t(std::chrono::hours(1));
  EXPECT_TRUE(t.MaybeTrim());
  EXPECT_FALSE(t.MaybeTrim());
  EXPECT_FALSE(t.MaybeTrim());
}

TEST(MemoryTrimmer, AZeroIntervalTrimsEveryTime) {
  MemoryTrimmer t(std::chrono::milliseconds(0));
  // Some freed memory for it to give back; the call must be safe whatever the heap holds.
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(std::malloc(4096));
  for (void* b : blocks) std::free(b);
  EXPECT_TRUE(t.MaybeTrim());
  EXPECT_TRUE(t.MaybeTrim());
}

}  // namespace
}  // namespace su
