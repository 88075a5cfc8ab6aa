// TokenBucket: client-side request throttling, as client-go's flowcontrol token bucket: `qps` tokens
// per second, at most `burst` saved up; each request takes one and waits when none is left.
// Measured on the monotonic clock. qps <= 0 disables throttling.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>

namespace su::kube {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double qps, int burst, std::function<Clock::time_point()> now = [] { return Clock::now(); });
  // Takes a token and returns how long the caller must wait before using it (0 when one was saved).
  // Thread-safe; callers are served in order of arrival.
  std::chrono::nanoseconds Reserve();
  // Reserve() then sleep.
  void Wait();

 private:
  std::mutex mu_;
  const double qps_;
  const double burst_;
  std::function<Clock::time_point()> now_;
  double tokens_;            // guarded by mu_; negative: reserved ahead
  Clock::time_point last_;   // guarded by mu_
};

}  // namespace su::kube
