// Maintenance windows: is `now` inside the window, and when does it next open. Pure (time zone
// rules come from the system's tzdata via localtime_r under a lock).
#pragma once

#include "reconcilers/base/clock.h"
#include "reconcilers/base/result.h"
#include "reconcilers/manifest/spec.h"

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
