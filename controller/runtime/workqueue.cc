// WorkQueue (see workqueue.h): one mutex guards every set; client-go's dirty/processing dance keeps
// a key out of two workers' hands at once.
#include "controller/runtime/workqueue.h"

#include <algorithm>
#include <cmath>

namespace su {

using std::chrono::milliseconds;

WorkQueue::WorkQueue(WorkQueueOptions options)
    : options_(options), tokens_(options.burst), bucket_last_(options.clock->MonotonicNow()) {}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  AddLocked(key);
}

void WorkQueue::AddResync(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  AddLocked(key, /*resync=*/true);
}

void WorkQueue::AddLocked(const std::string& key, bool resync) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) {
    // Already pending: a change makes pending resync work a change (moved ahead, or re-queued
    // ahead at Done); a resync adds nothing to pending work of either kind.
    if (resync || !resync_.erase(key)) return;
    if (processing_.count(key)) return;
    queue_.push_back(key);  // its resync_queue_ entry is now stale
    cv_.notify_one();
    return;
  }
  if (resync) resync_.insert(key);
  // A key being processed goes back to the queue when its worker calls Done.
  if (processing_.count(key)) return;
  (resync ? resync_queue_ : queue_).push_back(key);
  cv_.notify_one();
}

std::optional<std::string> WorkQueue::PopLocked() {
  // Drop stale resync entries at the front, so "resync work waits" means live work. An entry is
  // live when its key still waits as resync work and is not being processed (a key handed out
  // and resynced again gets a fresh entry at Done).
  while (!resync_queue_.empty() &&
         (!resync_.count(resync_queue_.front()) || processing_.count(resync_queue_.front()))) {
    resync_queue_.pop_front();
  }
  bool take_resync = !resync_queue_.empty() && (queue_.empty() || high_in_a_row_ >= std::max(1, options_.high_burst));
  std::deque<std::string>& from = take_resync ? resync_queue_ : queue_;
  if (from.empty()) return std::nullopt;
  std::string key = std::move(from.front());
  from.pop_front();
  if (take_resync) {
    resync_.erase(key);
    high_in_a_row_ = 0;
  } else if (!resync_queue_.empty()) {
    ++high_in_a_row_;
  } else {
    high_in_a_row_ = 0;
  }
  return key;
}

void WorkQueue::AddAfter(const std::string& key, milliseconds delay) {
  std::lock_guard<std::mutex> l(mu_);
  if (shutting_down_) return;
  if (delay <= milliseconds::zero()) {
    AddLocked(key);
    return;
  }
  Clock::MonoTimePoint when = options_.clock->MonotonicNow() + delay;
  auto [it, inserted] = delayed_.emplace(key, when);
  if (!inserted && when < it->second) it->second = when;
  // Waiters may be sleeping towards a later deadline (or none at all).
  cv_.notify_all();
}

milliseconds WorkQueue::BucketDelayLocked(Clock::MonoTimePoint now) {
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
    delay = std::max(delay, BucketDelayLocked(options_.clock->MonotonicNow()));
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

void WorkQueue::PromoteReadyLocked(Clock::MonoTimePoint now) {
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
    Clock::MonoTimePoint now = options_.clock->MonotonicNow();
    PromoteReadyLocked(now);
    if (auto key = PopLocked()) {
      dirty_.erase(*key);
      processing_.insert(*key);
      return key;
    }
    auto steady_now = std::chrono::steady_clock::now();
    if (deadline && steady_now >= *deadline) return std::nullopt;
    std::optional<std::chrono::steady_clock::time_point> wake = deadline;
    if (!delayed_.empty()) {
      Clock::MonoTimePoint earliest = delayed_.begin()->second;
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
    (resync_.count(key) ? resync_queue_ : queue_).push_back(key);
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
  size_t resync_ready = 0;
  for (const auto& k : resync_) resync_ready += processing_.count(k) ? 0 : 1;
  return queue_.size() + resync_ready;
}

size_t WorkQueue::LenResync() const {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = 0;
  for (const auto& k : resync_) n += processing_.count(k) ? 0 : 1;
  return n;
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
