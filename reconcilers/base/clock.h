// Clock: the only source of time for the reconciler, so tests can move time without sleeping.
// Two readings, as Envoy's TimeSource: Now() is the wall clock, for maintenance windows and the
// timestamps written to status; MonotonicNow() never jumps (NTP steps, a resumed VM, someone
// setting the date), so every wait, timeout, backoff, settle time and lock wait is measured on it.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>

namespace su {

class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  using MonoTimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() = 0;
  // Monotonic time for waits, timeouts and leases: never jumps when the wall clock is set. Only
  // differences between two readings mean anything.
  virtual MonoTimePoint MonotonicNow() { return std::chrono::steady_clock::now(); }
  // Sleeps for d (a fake clock advances instead of sleeping).
  virtual void SleepFor(std::chrono::milliseconds d) = 0;
};

// The wall clock. Thread-safe; a process-wide instance.
Clock* RealClock();

// A clock that only moves when told to. SleepFor and Advance move both readings; Set moves only the
// wall clock (as an NTP step or a wrong date would). Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start) {}
  TimePoint Now() override {
    std::lock_guard<std::mutex> l(mu_);
    return now_;
  }
  MonoTimePoint MonotonicNow() override {
    std::lock_guard<std::mutex> l(mu_);
    return mono_;
  }
  void SleepFor(std::chrono::milliseconds d) override { Advance(d); }
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> l(mu_);
    now_ += d;
    mono_ += d;
  }
  void Set(TimePoint t) {
    std::lock_guard<std::mutex> l(mu_);
    now_ = t;
  }
  // Steps the wall clock alone by d (either way), as an NTP step would.
  void JumpWall(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> l(mu_);
    now_ += d;
  }

 private:
  std::mutex mu_;
  TimePoint now_;
  MonoTimePoint mono_{};
};

// RFC 3339 UTC with seconds, e.g. 2026-11-25T12:00:00Z.
std::string FormatTime(Clock::TimePoint t);
// The same text for seconds since the Unix epoch, without strftime: for thousands of history rows.
std::string FormatUnixSeconds(long long seconds);
// Parses the format FormatTime writes; nullopt-like: returns false on error.
bool ParseTime(const std::string& s, Clock::TimePoint* out);

}  // namespace su
