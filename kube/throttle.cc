// TokenBucket (see throttle.h).
#include "kube/throttle.h"

#include <algorithm>
#include <thread>

namespace su::kube {

TokenBucket::TokenBucket(double qps, int burst, std::function<Clock::time_point()> now)
    : qps_(qps), burst_(std::max(1, burst)), now_(std::move(now)), tokens_(std::max(1, burst)), last_(now_()) {}

std::chrono::nanoseconds TokenBucket::Reserve() {
  if (qps_ <= 0) return std::chrono::nanoseconds(0);
  std::lock_guard<std::mutex> l(mu_);
  auto now = now_();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  if (elapsed > 0) {
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<int64_t>(-tokens_ / qps_ * 1e9));
}

void TokenBucket::Wait() {
  auto d = Reserve();
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

}  // namespace su::kube
