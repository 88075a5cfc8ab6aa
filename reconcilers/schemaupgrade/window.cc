// Maintenance window arithmetic (see window.h). Walks minute boundaries of local days; the
// window is checked per local calendar day, so DST shifts move it with the wall clock.
#include "reconcilers/schemaupgrade/window.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

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

// Local broken-down time of t in zone (tz "" or "UTC" -> UTC).
std::tm Local(Clock::TimePoint t, const std::string& zone) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (zone.empty() || zone == "UTC" || zone == "Etc/UTC") {
    gmtime_r(&tt, &tm);
    return tm;
  }
  std::lock_guard<std::mutex> l(TzMu());
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  setenv("TZ", zone.c_str(), 1);
  tzset();
  localtime_r(&tt, &tm);
  if (old) setenv("TZ", saved.c_str(), 1); else unsetenv("TZ");
  tzset();
  return tm;
}

bool DayAllowed(const MaintenanceWindow& w, int wday) {
  if (w.days.empty()) return true;
  static const char* kNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  for (const auto& d : w.days) {
    if (d.size() >= 3 && d.substr(0, 3) == kNames[wday]) return true;
  }
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
  int length = end > start ? end - start : end + 1440 - start;
  // A window is open at minute t if some opening (start on an allowed day) happened less than
  // `length` minutes before. Step back and forward minute by minute over local days.
  using std::chrono::minutes;
  auto floor_min = std::chrono::time_point_cast<minutes>(now);
  WindowCheck r;
  for (int back = 0; back < length; ++back) {
    auto t = floor_min - minutes(back);
    std::tm tm = Local(t, w.time_zone);
    if (tm.tm_hour * 60 + tm.tm_min == start && DayAllowed(w, tm.tm_wday)) {
      r.open = true;
      r.closes_at = t + minutes(length);
      return r;
    }
  }
  for (int fwd = 1; fwd <= 8 * 1440; ++fwd) {
    auto t = floor_min + minutes(fwd);
    std::tm tm = Local(t, w.time_zone);
    if (tm.tm_hour * 60 + tm.tm_min == start && DayAllowed(w, tm.tm_wday)) {
      r.next_open = t;
      return r;
    }
  }
  return Status::Invalid("maintenanceWindow never opens (check days)");
}

}  // namespace su
