// ObservationCache (see observation_cache.h).
#include "reconcilers/schemaupgrade/observation_cache.h"

namespace su {

std::shared_ptr<const EngineState> ObservationCache::Find(const std::string& key, const std::string& digest) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.digest != digest ||
      clock_->MonotonicNow() - it->second.full_at >= full_every_) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  return it->second.state;
}

void ObservationCache::Put(const std::string& key, const std::string& digest, const std::string& shared,
                           const EngineState& state) {
  if (!state.pending.empty()) {
    Drop(key);
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  std::shared_ptr<const EngineState> s;
  auto sh = shared_.find(shared);
  if (sh != shared_.end()) s = sh->second.lock();
  if (!s) {
    s = std::make_shared<const EngineState>(state);
    shared_[shared] = s;
    // Forget the shared states nobody holds any more (a history that moved on).
    for (auto i = shared_.begin(); i != shared_.end();) i = i->second.expired() ? shared_.erase(i) : std::next(i);
  }
  entries_[key] = Entry{digest, std::move(s), clock_->MonotonicNow()};
}

void ObservationCache::Drop(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  entries_.erase(key);
}

size_t ObservationCache::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

long long ObservationCache::hits() const {
  std::lock_guard<std::mutex> l(mu_);
  return hits_;
}

long long ObservationCache::misses() const {
  std::lock_guard<std::mutex> l(mu_);
  return misses_;
}

}  // namespace su
