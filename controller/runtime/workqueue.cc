// WorkQueue (see workqueue.h): one mutex guards every set; client-go's dirty/processing dance keeps
// a key out of two workers' hands at once.
#include "controller/runtime/workqueue.h"

#include <algorithm>
#include <cmath>

namespace su {

using std::chrono::milliseconds;

WorkQueue::WorkQueue(WorkQueueOptions options)
    : options_(options), tokens_(options.burst), bucket_last_(options.clock->Now()) {}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  AddLocked(key);
}

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;
  // A key being processed goes back to the queue when its worker calls Done.
  if (processing_.count(key)) return;
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::AddAfter(const std::string& key, milliseconds delay) {
  std::lock_guard<std::mutex> l(mu_);
  if (shutting_down_) return;
  if (delay <= milliseconds::zero()) {
    AddLocked(key);
    return;
  }
  Clock::TimePoint when = options_.clock->Now() + delay;
  auto [it, inserted] = delayed_.emplace(key, when);
  if (!inserted && when < it->second) it->second = when;
  // Waiters may be sleeping towards a later deadline (or none at all).
  cv_.notify_all();
}

milliseconds WorkQueue::BucketDelayLocked(Clock::TimePoint now) {
  if (options_.qps <= 0) return milliseconds::zero();
  double elapsed = std::chrono::duration<double>(now - bucket_last_).count();
  if (elapsed > 0) {
    tokens_ = std::min<double>(options_.burst, tokens_ + elapsed * options_.qps);
    bucket_last_ = now;
  }
  tokens_ -= 1;  // reserve a token now, possibly going into debt like golang.org/x/time/rate
  if (tokens_ >= 0) return milliseconds::zero();
  return milliseconds(static_cast<int64_t>(std::ceil(-tokens_ / options_.qps * 1000)));
}

milliseconds WorkQueue::AddRateLimited(const std::string& key) {
  milliseconds delay;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (shutting_down_) return milliseconds::zero();
    const Backoff& backoff = options_.default_backoff;
    int exp = failures_[key]++;
    // Computed in double so large exponents saturate at max instead of overflowing.
    double ms = static_cast<double>(backoff.initial.count()) * std::pow(2.0, exp);
    double cap = static_cast<double>(backoff.max.count());
    delay = milliseconds(static_cast<int64_t>(std::min(ms, cap)));
    delay = std::max(delay, BucketDelayLocked(options_.clock->Now()));
  }
  AddAfter(key, delay);
  return delay;
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  failures_.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteReadyLocked(Clock::TimePoint now) {
  for (auto it = delayed_.begin(); it != delayed_.end();) {
    if (it->second <= now) {
      AddLocked(it->first);
      it = delayed_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<std::string> WorkQueue::Get() { return GetUntil(std::nullopt); }

std::optional<std::string> WorkQueue::GetFor(milliseconds timeout) {
  return GetUntil(std::chrono::steady_clock::now() + timeout);
}

std::optional<std::string> WorkQueue::GetUntil(std::optional<std::chrono::steady_clock::time_point> deadline) {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    if (shutting_down_) return std::nullopt;
    Clock::TimePoint now = options_.clock->Now();
    PromoteReadyLocked(now);
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    auto steady_now = std::chrono::steady_clock::now();
    if (deadline && steady_now >= *deadline) return std::nullopt;
    std::optional<std::chrono::steady_clock::time_point> wake = deadline;
    if (!delayed_.empty()) {
      Clock::TimePoint earliest = delayed_.begin()->second;
      for (const auto& [k, t] : delayed_) earliest = std::min(earliest, t);
      auto until = std::chrono::duration_cast<milliseconds>(earliest - now) + milliseconds(1);
      auto at = steady_now + std::min(until, options_.poll_interval);
      wake = wake ? std::min(*wake, at) : at;
    }
    if (wake) {
      cv_.wait_until(l, *wake);
    } else {
      cv_.wait(l);
    }
  }
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  processing_.erase(key);
  if (processing_.empty()) drained_.notify_all();
  if (dirty_.count(key) && !shutting_down_) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> l(mu_);
  shutting_down_ = true;
  cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  std::unique_lock<std::mutex> l(mu_);
  shutting_down_ = true;
  cv_.notify_all();
  drained_.wait(l, [this] { return processing_.empty(); });
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard<std::mutex> l(mu_);
  return shutting_down_;
}

void WorkQueue::Tick() {
  std::lock_guard<std::mutex> l(mu_);
  cv_.notify_all();
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size();
}

size_t WorkQueue::NumDelayed() const {
  std::lock_guard<std::mutex> l(mu_);
  return delayed_.size();
}

size_t WorkQueue::NumProcessing() const {
  std::lock_guard<std::mutex> l(mu_);
  return processing_.size();
}

}  // namespace su
