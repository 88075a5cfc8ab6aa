// Maintenance windows: open/closed, next opening, wrap past midnight, day filters, time zones.
#include <gtest/gtest.h>

#include "reconcilers/schemaupgrade/window.h"

namespace su::testing {
namespace {

Clock::TimePoint T(const char* s) {
  Clock::TimePoint t;
  EXPECT_TRUE(ParseTime(s, &t)) << s;
  return t;
}

WindowCheck Check(const MaintenanceWindow& w, const char* now) {
  auto r = CheckWindow(w, T(now));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : WindowCheck{};
}

TEST(WindowTest, OpenInsideClosedOutsideWithNextOpening) {
  MaintenanceWindow w{"02:00", "04:00", "UTC", {}};
  WindowCheck in = Check(w, "2026-03-02T03:15:00Z");
  EXPECT_TRUE(in.open);
  EXPECT_EQ(FormatTime(in.closes_at), "2026-03-02T04:00:00Z");
  EXPECT_TRUE(Check(w, "2026-03-02T02:00:00Z").open) << "start is inclusive";
  WindowCheck at_end = Check(w, "2026-03-02T04:00:00Z");
  EXPECT_FALSE(at_end.open) << "end is exclusive";
  EXPECT_EQ(FormatTime(at_end.next_open), "2026-03-03T02:00:00Z");
  WindowCheck before = Check(w, "2026-03-02T01:59:30Z");
  EXPECT_FALSE(before.open);
  EXPECT_EQ(FormatTime(before.next_open), "2026-03-02T02:00:00Z");
  EXPECT_TRUE(Check(MaintenanceWindow{"02:00", "04:00", "", {}}, "2026-03-02T03:00:00Z").open) << "empty zone is UTC";
}

TEST(WindowTest, WindowsWrapPastMidnight) {
  MaintenanceWindow w{"22:00", "02:00", "UTC", {}};
  WindowCheck late = Check(w, "2026-03-02T23:30:00Z");
  EXPECT_TRUE(late.open);
  EXPECT_EQ(FormatTime(late.closes_at), "2026-03-03T02:00:00Z");
  WindowCheck early = Check(w, "2026-03-03T01:10:00Z");
  EXPECT_TRUE(early.open);
  EXPECT_EQ(FormatTime(early.closes_at), "2026-03-03T02:00:00Z");
  WindowCheck day = Check(w, "2026-03-03T12:00:00Z");
  EXPECT_FALSE(day.open);
  EXPECT_EQ(FormatTime(day.next_open), "2026-03-03T22:00:00Z");
}

TEST(WindowTest, DaysRestrictWhenTheWindowOpens) {
  // 2026-03-02 is a Monday.
  MaintenanceWindow w{"02:00", "04:00", "UTC", {"Sat", "Sun"}};
  WindowCheck mon = Check(w, "2026-03-02T03:00:00Z");
  EXPECT_FALSE(mon.open);
  EXPECT_EQ(FormatTime(mon.next_open), "2026-03-07T02:00:00Z");
  EXPECT_TRUE(Check(w, "2026-03-08T03:00:00Z").open);
  // A window opening Friday night stays open into Saturday morning.
  MaintenanceWindow fri{"23:00", "03:00", "UTC", {"Friday"}};
  EXPECT_TRUE(Check(fri, "2026-03-07T01:00:00Z").open);
  WindowCheck sat_night = Check(fri, "2026-03-07T23:30:00Z");
  EXPECT_FALSE(sat_night.open);
  EXPECT_EQ(FormatTime(sat_night.next_open), "2026-03-13T23:00:00Z");
}

TEST(WindowTest, NonUtcZoneFollowsLocalTimeAcrossDst) {
  MaintenanceWindow w{"02:00", "04:00", "Europe/Paris", {}};
  // Winter (CET, UTC+1): 02:00-04:00 Paris is 01:00-03:00 UTC.
  EXPECT_TRUE(Check(w, "2026-01-15T01:30:00Z").open);
  EXPECT_FALSE(Check(w, "2026-01-15T03:30:00Z").open);
  WindowCheck winter = Check(w, "2026-01-15T12:00:00Z");
  EXPECT_EQ(FormatTime(winter.next_open), "2026-01-16T01:00:00Z");
  // Summer (CEST, UTC+2): 02:00-04:00 Paris is 00:00-02:00 UTC.
  WindowCheck summer = Check(w, "2026-07-15T00:30:00Z");
  EXPECT_TRUE(summer.open);
  EXPECT_EQ(FormatTime(summer.closes_at), "2026-07-15T02:00:00Z");
  EXPECT_FALSE(Check(w, "2026-07-15T02:30:00Z").open);
  // The process's own TZ is left as it was.
  EXPECT_EQ(std::getenv("TZ") == nullptr, true);
}

// Spring forward in Paris (2026-03-29: 02:00 CET jumps to 03:00 CEST). A 02:00-04:00 window
// still has the wall-clock hour 03:00-04:00 that day. POSSIBLE BUG (window.cc CheckWindow: a window
// opens only at a minute whose local time is exactly `start`): on that day 02:00 never occurs, so
// the window stays closed all day and the next opening is the following night. Expected: open at
// 03:30 local. Reported as an edge case; skipped while it fails.
TEST(WindowTest, SpringForwardDayStillOpensForTheRemainingWallClockHour) {
  MaintenanceWindow w{"02:00", "04:00", "Europe/Paris", {}};
  WindowCheck c = Check(w, "2026-03-29T01:30:00Z");  // 03:30 CEST
  if (!c.open) {
    FAIL() << "regression: closed at 03:30 local on the spring-forward day, next opening "
                 << FormatTime(c.next_open);
  }
  EXPECT_EQ(FormatTime(c.closes_at), "2026-03-29T02:00:00Z");
}

TEST(WindowTest, BadFieldsAreInvalidArguments) {
  auto at = T("2026-03-02T10:00:00Z");
  for (const MaintenanceWindow& w : {MaintenanceWindow{"2am", "04:00", "UTC", {}},
                                     MaintenanceWindow{"02:00", "24:00", "UTC", {}},
                                     MaintenanceWindow{"02:00", "04:60", "UTC", {}},
                                     MaintenanceWindow{"02:00", "04:00x", "UTC", {}},
                                     MaintenanceWindow{"02:00", "04:00", "Mars/Olympus_Mons", {}},
                                     MaintenanceWindow{"02:00", "04:00", "UTC", {"Someday"}}}) {
    auto r = CheckWindow(w, at);
    EXPECT_FALSE(r.ok()) << w.start << "-" << w.end << " " << w.time_zone;
    if (!r.ok()) EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
  auto bad_zone = CheckWindow(MaintenanceWindow{"02:00", "04:00", "Mars/Olympus_Mons", {}}, at);
  ASSERT_FALSE(bad_zone.ok());
  EXPECT_NE(bad_zone.status().message().find("Mars/Olympus_Mons"), std::string::npos);
}

}  // namespace
}  // namespace su::testing
