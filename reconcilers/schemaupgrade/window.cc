// Maintenance window arithmetic (see window.h). Each local calendar day on which the window may
// open gives one interval of real time [opens, closes); `now` is inside the window when it is
// inside one of them. Local times become instants through the IANA rules of the zone (Howard
// Hinnant's date/tz.h reading the system tzdata): no TZ environment variable, no tzset, no lock,
// so it is safe beside threads that read the environment (libpq, process spawning).
//
// Daylight saving time, the cron rule (Vixie cron / cronie):
//  - a local time that does not exist (the hour skipped on spring-forward) means the first valid
//    instant after it, the moment the clocks jump: a 02:00-03:00 Europe/Berlin window opens at
//    03:00 CEST that day. A window lying entirely inside the skipped hour stays open for its usual
//    length from that instant (03:00-04:00 CEST), so it never silently disappears;
//  - a local time that occurs twice (the hour repeated on fall-back) means its first occurrence,
//    so 02:00-03:00 on that day is open for the two real hours the wall clock shows 02:xx.
#include "reconcilers/schemaupgrade/window.h"

#include <date/tz.h>
#include <strings.h>

#include <cstdio>
#include <optional>
#include <string>

namespace su {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

bool ParseHm(const std::string& s, int* mins) {
  int h = 0, m = 0;
  char extra = 0;
  if (std::sscanf(s.c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 || m > 59) return false;
  *mins = h * 60 + m;
  return true;
}

bool DayAllowed(const MaintenanceWindow& w, unsigned wday) {  // 0 = Sunday
  if (w.days.empty()) return true;
  static const char* kNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  for (const auto& d : w.days) {
    if (d.size() >= 3 && strncasecmp(d.c_str(), kNames[wday % 7], 3) == 0) return true;
  }
  return false;
}

bool IsUtc(const std::string& zone) { return zone.empty() || zone == "UTC" || zone == "Etc/UTC"; }

// The zone's local <-> system time conversions; UTC needs no tzdata.
class Zone {
 public:
  explicit Zone(const date::time_zone* tz) : tz_(tz) {}

  date::local_seconds Local(Clock::TimePoint t) const {
    auto s = std::chrono::time_point_cast<seconds>(t);
    if (!tz_) return date::local_seconds{s.time_since_epoch()};
    return tz_->to_local(s);
  }

  // The instant of local time lt, by the cron rule (see the file comment).
  date::sys_seconds Instant(date::local_seconds lt) const {
    if (!tz_) return date::sys_seconds{lt.time_since_epoch()};
    date::local_info i = tz_->get_info(lt);
    if (i.result == date::local_info::nonexistent) return i.first.end;  // when the clocks jump
    return date::sys_seconds{lt.time_since_epoch()} - i.first.offset;  // unique, or the first of two
  }

 private:
  const date::time_zone* tz_;
};

struct Interval {
  Clock::TimePoint opens, closes;
};

// The window that opens on local day `day`, or nothing when the window does not open that day.
std::optional<Interval> WindowOn(const MaintenanceWindow& w, const Zone& zone, date::local_days day, int start,
                                 int end) {
  if (!DayAllowed(w, date::weekday(day).c_encoding())) return std::nullopt;
  int length = end > start ? end - start : end + 1440 - start;
  auto opens = zone.Instant(day + minutes(start));
  auto closes = zone.Instant(day + minutes(start + length));
  if (closes <= opens) closes = opens + minutes(length);  // the whole window fell in a skipped hour
  return Interval{Clock::TimePoint(opens), Clock::TimePoint(closes)};
}

}  // namespace

Result<WindowCheck> CheckWindow(const MaintenanceWindow& w, Clock::TimePoint now) {
  int start = 0, end = 0;
  if (!ParseHm(w.start, &start)) return Status::Invalid("maintenanceWindow.start \"" + w.start + "\" is not HH:MM");
  if (!ParseHm(w.end, &end)) return Status::Invalid("maintenanceWindow.end \"" + w.end + "\" is not HH:MM");
  if (start == end) return Status::Invalid("maintenanceWindow start and end are equal: the window would be empty");
  const date::time_zone* tz = nullptr;
  if (!IsUtc(w.time_zone)) {
    try {
      tz = date::locate_zone(w.time_zone);
    } catch (const std::exception&) {
      return Status::Invalid("maintenanceWindow.timeZone \"" + w.time_zone +
                             "\" is not a known time zone (e.g. UTC, Europe/Paris)");
    }
  }
  Zone zone(tz);
  auto today = date::floor<date::days>(zone.Local(now));
  WindowCheck r;
  std::optional<Clock::TimePoint> next;
  // Yesterday's window may still be open (past midnight); a week ahead covers any `days` list.
  for (int d = -1; d <= 8; ++d) {
    auto iv = WindowOn(w, zone, today + date::days(d), start, end);
    if (!iv) continue;
    if (iv->opens <= now && now < iv->closes) {
      r.open = true;
      r.closes_at = iv->closes;
      return r;
    }
    if (iv->opens > now && (!next || iv->opens < *next)) next = iv->opens;
  }
  if (!next) return Status::Invalid("maintenanceWindow never opens (check days)");
  r.next_open = *next;
  return r;
}

}  // namespace su
