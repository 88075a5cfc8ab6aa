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
// opens when the clocks jump and keeps the wall-clock hour 03:00-04:00 that day.
TEST(WindowTest, SpringForwardDayStillOpensForTheRemainingWallClockHour) {
  MaintenanceWindow w{"02:00", "04:00", "Europe/Paris", {}};
  WindowCheck c = Check(w, "2026-03-29T01:30:00Z");  // 03:30 CEST
  if (!c.open) {
    FAIL() << "regression: closed at 03:30 local on the spring-forward day, next opening "
                 << FormatTime(c.next_open);
  }
  EXPECT_EQ(FormatTime(c.closes_at), "2026-03-29T02:00:00Z");
}

// Spring forward in Berlin (2026-03-29, a Sunday: 02:00 CET jumps to 03:00 CEST, i.e. 01:00Z).
// A window lying entirely in the skipped hour opens, as cron runs a job of the skipped hour, at the
// first valid instant after it and stays open its usual hour; it never makes the window "never open".
TEST(WindowTest, WindowInsideTheSkippedHourOpensWhenTheClocksJump) {
  MaintenanceWindow w{"02:00", "03:00", "Europe/Berlin", {}};
  WindowCheck before = Check(w, "2026-03-29T00:30:00Z");  // 01:30 CET
  EXPECT_FALSE(before.open);
  EXPECT_EQ(FormatTime(before.next_open), "2026-03-29T01:00:00Z");  // 03:00 CEST
  WindowCheck in = Check(w, "2026-03-29T01:30:00Z");                // 03:30 CEST
  EXPECT_TRUE(in.open);
  EXPECT_EQ(FormatTime(in.closes_at), "2026-03-29T02:00:00Z");
  WindowCheck after = Check(w, "2026-03-29T02:00:00Z");
  EXPECT_FALSE(after.open);
  EXPECT_EQ(FormatTime(after.next_open), "2026-03-30T00:00:00Z");  // 02:00 CEST the next day

  // Only on Sundays: from the Sunday before, the next opening is the spring-forward Sunday (the
  // minute-walking version found no 02:00 that day and failed with "never opens").
  MaintenanceWindow sundays{"02:00", "03:00", "Europe/Berlin", {"Sun"}};
  auto r = CheckWindow(sundays, T("2026-03-22T02:30:00Z"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->open);
  EXPECT_EQ(FormatTime(r->next_open), "2026-03-29T01:00:00Z");
  // Every minute of the week before and after the change answers without an error.
  for (auto t = T("2026-03-22T00:00:00Z"); t < T("2026-04-06T00:00:00Z"); t += std::chrono::minutes(7)) {
    ASSERT_TRUE(CheckWindow(sundays, t).ok()) << FormatTime(t);
  }
}

// A window whose end falls in the skipped hour ends when the clocks jump (its wall-clock part
// before the jump is all there is that day).
TEST(WindowTest, WindowEndingInTheSkippedHourEndsAtTheJump) {
  MaintenanceWindow w{"01:30", "02:30", "Europe/Berlin", {}};
  WindowCheck in = Check(w, "2026-03-29T00:45:00Z");  // 01:45 CET
  EXPECT_TRUE(in.open);
  EXPECT_EQ(FormatTime(in.closes_at), "2026-03-29T01:00:00Z");
}

// Fall back in Berlin (2026-10-25: 03:00 CEST becomes 02:00 CET, i.e. 01:00Z): a repeated local
// time means its first occurrence, so 02:00-03:00 is open the two real hours the clock shows 02:xx.
TEST(WindowTest, RepeatedHourOnFallBackUsesTheFirstOccurrence) {
  MaintenanceWindow w{"02:00", "03:00", "Europe/Berlin", {}};
  WindowCheck before = Check(w, "2026-10-24T23:30:00Z");  // 01:30 CEST
  EXPECT_EQ(FormatTime(before.next_open), "2026-10-25T00:00:00Z");
  WindowCheck in = Check(w, "2026-10-25T01:30:00Z");  // the second 02:30 (CET)
  EXPECT_TRUE(in.open);
  EXPECT_EQ(FormatTime(in.closes_at), "2026-10-25T02:00:00Z");
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
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    }
  }
  auto bad_zone = CheckWindow(MaintenanceWindow{"02:00", "04:00", "Mars/Olympus_Mons", {}}, at);
  ASSERT_FALSE(bad_zone.ok());
  EXPECT_NE(bad_zone.status().message().find("Mars/Olympus_Mons"), std::string::npos);
}

}  // namespace
}  // namespace su::testing
