// Maintenance window arithmetic (see window.h). Walks minute boundaries of local days; the
// window is checked per local calendar day, so DST shifts move it with the wall clock.
#include "reconcilers/schemaupgrade/window.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>
#include <strings.h>

namespace su {
namespace {

std::mutex& TzMu() {
  static std::mutex mu;
  return mu;
}

bool ParseHm(const std::string& s, int* minutes) {
  int h = 0, m = 0;
  char extra = 0;
  if (std::sscanf(s.c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 || m > 59) return false;
  *minutes = h * 60 + m;
  return true;
}

// Switches the process's TZ to zone for its lifetime (under a lock), so one CheckWindow call does
// one tzset rather than one per minute it looks at.
class ZoneScope {
 public:
  explicit ZoneScope(const std::string& zone) : lock_(TzMu()), utc_(zone.empty() || zone == "UTC" || zone == "Etc/UTC") {
    if (utc_) return;
    const char* old = std::getenv("TZ");
    had_old_ = old != nullptr;
    if (old) saved_ = old;
    setenv("TZ", zone.c_str(), 1);
    tzset();
  }
  ~ZoneScope() {
    if (utc_) return;
    if (had_old_) setenv("TZ", saved_.c_str(), 1); else unsetenv("TZ");
    tzset();
  }
  std::tm Local(Clock::TimePoint t) const {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    if (utc_) gmtime_r(&tt, &tm); else localtime_r(&tt, &tm);
    return tm;
  }

 private:
  std::lock_guard<std::mutex> lock_;
  bool utc_;
  bool had_old_ = false;
  std::string saved_;
};

bool DayAllowed(const MaintenanceWindow& w, int wday) {
  if (w.days.empty()) return true;
  static const char* kNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  for (const auto& d : w.days) {
    if (d.size() >= 3 && strncasecmp(d.c_str(), kNames[wday], 3) == 0) return true;
  }
  return false;
}

// Open at local wall-clock time tm? Judged on the wall clock, so a window whose start does not
// exist on a DST day (02:00 on spring-forward) still opens for the wall-clock time that remains.
bool OpenAt(const MaintenanceWindow& w, const std::tm& tm, int start, int end) {
  int m = tm.tm_hour * 60 + tm.tm_min;
  if (start < end) return m >= start && m < end && DayAllowed(w, tm.tm_wday);
  // Wraps past midnight: the part after midnight belongs to the previous day's window.
  if (m >= start) return DayAllowed(w, tm.tm_wday);
  if (m < end) return DayAllowed(w, (tm.tm_wday + 6) % 7);
  return false;
}

}  // namespace

Result<WindowCheck> CheckWindow(const MaintenanceWindow& w, Clock::TimePoint now) {
  int start = 0, end = 0;
  if (!ParseHm(w.start, &start)) return Status::Invalid("maintenanceWindow.start \"" + w.start + "\" is not HH:MM");
  if (!ParseHm(w.end, &end)) return Status::Invalid("maintenanceWindow.end \"" + w.end + "\" is not HH:MM");
  if (!w.time_zone.empty() && w.time_zone != "UTC" && std::string("/usr/share/zoneinfo/" + w.time_zone).find("..") == std::string::npos) {
    std::FILE* f = std::fopen(("/usr/share/zoneinfo/" + w.time_zone).c_str(), "rb");
    if (!f) return Status::Invalid("maintenanceWindow.timeZone \"" + w.time_zone + "\" is not a known time zone (e.g. UTC, Europe/Paris)");
    std::fclose(f);
  }
  if (start == end) return Status::Invalid("maintenanceWindow start and end are equal: the window would be empty");
  using std::chrono::minutes;
  ZoneScope zone(w.time_zone);
  auto floor_min = std::chrono::time_point_cast<minutes>(now);
  WindowCheck r;
  if (OpenAt(w, zone.Local(now), start, end)) {
    r.open = true;
    for (int fwd = 1; fwd <= 2 * 1440; ++fwd) {
      auto t = floor_min + minutes(fwd);
      if (!OpenAt(w, zone.Local(t), start, end)) {
        r.closes_at = t;
        break;
      }
    }
    return r;
  }
  for (int fwd = 1; fwd <= 8 * 1440; ++fwd) {
    auto t = floor_min + minutes(fwd);
    if (OpenAt(w, zone.Local(t), start, end)) {
      r.next_open = t;
      return r;
    }
  }
  return Status::Invalid("maintenanceWindow never opens (check days)");
}

}  // namespace su
