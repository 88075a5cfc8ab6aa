// FormatUnixSeconds (reconcilers/base/clock.h) writes exactly what FormatTime writes for the same
// second (within system_clock's range), across leap years, century rules, month ends and times before 1970.
#include <gtest/gtest.h>

#include <chrono>

#include "reconcilers/base/clock.h"

namespace su {
namespace {

TEST(ClockFormatTest, UnixSecondsMatchFormatTime) {
  const long long samples[] = {0,           -1,          59,          86399,       86400,      951782400 /* 2000-02-29 */,
                               951868799,   4107542400 /* 2100-03-01 */, 1798675199, 1798675200, -2208988800 /* 1900 */};
  for (long long s : samples) {
    EXPECT_EQ(FormatUnixSeconds(s), FormatTime(std::chrono::system_clock::from_time_t(s))) << s;
  }
  // Every day of four years around a leap day, at an odd second.
  for (long long s = 946684800 - 86400 * 365; s < 946684800 + 86400 * 3 * 365; s += 86400 + 7) {
    ASSERT_EQ(FormatUnixSeconds(s), FormatTime(std::chrono::system_clock::from_time_t(s))) << s;
  }
  EXPECT_EQ(FormatUnixSeconds(1798761600), "2027-01-01T00:00:00Z");
  // Beyond system_clock's nanosecond range (FormatTime overflows there), still right.
  EXPECT_EQ(FormatUnixSeconds(253402300799), "9999-12-31T23:59:59Z");
}

}  // namespace
}  // namespace su
