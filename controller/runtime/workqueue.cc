// WorkQueue (see workqueue.h): one mutex guards one map of key entries; the queues and the delay
// set point into it. client-go's dirty/processing dance keeps a key out of two workers' hands.
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
  Ref ref = &*keys_.try_emplace(key).first;
  Entry& e = ref->second;
  if (e.dirty) {
    // Already pending: a change makes pending resync work a change (moved ahead, or re-queued
    // ahead at Done); a resync adds nothing to pending work of either kind.
    if (resync || !e.resync) return;
    e.resync = false;
    if (e.processing) return;
    PushLocked(ref, /*resync=*/false);  // its resync_queue_ entry is now stale
    return;
  }
  e.dirty = true;
  e.resync = resync;
  // A key being processed goes back to the queue when its worker calls Done.
  if (e.processing) return;
  PushLocked(ref, resync);
}

void WorkQueue::PushLocked(Ref ref, bool resync) {
  (resync ? resync_queue_ : queue_).push_back(ref);
  ++ref->second.queued;
  cv_.notify_one();
}

void WorkQueue::ReleaseLocked(Ref ref) {
  const Entry& e = ref->second;
  if (e.dirty || e.processing || e.delayed || e.failures > 0 || e.queued > 0) return;
  keys_.erase(ref->first);
}

std::optional<WorkQueue::Ref> WorkQueue::PopLocked() {
  // Drop stale resync entries at the front, so "resync work waits" means live work. An entry is
  // live when its key still waits as resync work and is not being processed (a key handed out
  // and resynced again gets a fresh entry at Done).
  while (!resync_queue_.empty()) {
    Ref front = resync_queue_.front();
    if (front->second.resync && !front->second.processing) break;
    resync_queue_.pop_front();
    --front->second.queued;
    ReleaseLocked(front);
  }
  bool take_resync = !resync_queue_.empty() && (queue_.empty() || high_in_a_row_ >= std::max(1, options_.high_burst));
  std::deque<Ref>& from = take_resync ? resync_queue_ : queue_;
  if (from.empty()) return std::nullopt;
  Ref ref = from.front();
  from.pop_front();
  --ref->second.queued;
  if (take_resync) {
    ref->second.resync = false;
    high_in_a_row_ = 0;
  } else if (!resync_queue_.empty()) {
    ++high_in_a_row_;
  } else {
    high_in_a_row_ = 0;
  }
  return ref;
}

void WorkQueue::AddAfter(const std::string& key, milliseconds delay) {
  std::lock_guard<std::mutex> l(mu_);
  if (shutting_down_) return;
  if (delay <= milliseconds::zero()) {
    AddLocked(key);
    return;
  }
  Clock::MonoTimePoint when = options_.clock->MonotonicNow() + delay;
  Ref ref = &*keys_.try_emplace(key).first;
  Entry& e = ref->second;
  if (e.delayed) {
    if (when >= e.when) return;
    delayed_.erase({e.when, ref});
  }
  e.delayed = true;
  e.when = when;
  delayed_.emplace(when, ref);
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
    int exp = keys_[key].failures++;
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
  auto it = keys_.find(key);
  if (it == keys_.end()) return;
  it->second.failures = 0;
  ReleaseLocked(&*it);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = keys_.find(key);
  return it == keys_.end() ? 0 : it->second.failures;
}

void WorkQueue::PromoteReadyLocked(Clock::MonoTimePoint now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    Ref ref = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    ref->second.delayed = false;
    AddLocked(ref->first);
    ReleaseLocked(ref);  // only when shutting down did AddLocked leave it without state
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
    if (auto ref = PopLocked()) {
      (*ref)->second.dirty = false;
      (*ref)->second.processing = true;
      ++processing_count_;
      return (*ref)->first;
    }
    auto steady_now = std::chrono::steady_clock::now();
    if (deadline && steady_now >= *deadline) return std::nullopt;
    std::optional<std::chrono::steady_clock::time_point> wake = deadline;
    if (!delayed_.empty()) {
      Clock::MonoTimePoint earliest = delayed_.begin()->first;
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
  auto it = keys_.find(key);
  if (it == keys_.end() || !it->second.processing) return;
  Ref ref = &*it;
  ref->second.processing = false;
  if (--processing_count_ == 0) drained_.notify_all();
  if (ref->second.dirty && !shutting_down_) {
    PushLocked(ref, ref->second.resync);
    return;
  }
  ReleaseLocked(ref);
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
  drained_.wait(l, [this] { return processing_count_ == 0; });
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
  for (const auto& [k, e] : keys_) resync_ready += e.resync && !e.processing ? 1 : 0;
  return queue_.size() + resync_ready;
}

size_t WorkQueue::LenResync() const {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = 0;
  for (const auto& [k, e] : keys_) n += e.resync && !e.processing ? 1 : 0;
  return n;
}

size_t WorkQueue::NumDelayed() const {
  std::lock_guard<std::mutex> l(mu_);
  return delayed_.size();
}

size_t WorkQueue::NumProcessing() const {
  std::lock_guard<std::mutex> l(mu_);
  return processing_count_;
}

size_t WorkQueue::NumKeys() const {
  std::lock_guard<std::mutex> l(mu_);
  return keys_.size();
}

}  // namespace su
