// Maintenance windows: is `now` inside the window, and when does it next open. Pure and
// thread-safe (time zone rules come from the system's tzdata through date/tz.h; no TZ/tzset).
// Across DST it follows cron: a start in the skipped hour opens at the first valid instant after
// it, and a repeated local time means its first occurrence (details in window.cc).
#pragma once

#include "api/spec.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/base/result.h"

namespace su {

struct WindowCheck {
  bool open = false;
  Clock::TimePoint next_open;   // when closed: the next opening (within 8 days)
  Clock::TimePoint closes_at;   // when open: when it closes
};

// start/end "HH:MM" in w.time_zone (IANA name, default UTC); end <= start wraps past midnight;
// w.days (Mon..Sun) restricts the days the window *opens*. kInvalidArgument for bad fields.
Result<WindowCheck> CheckWindow(const MaintenanceWindow& w, Clock::TimePoint now);

}  // namespace su
