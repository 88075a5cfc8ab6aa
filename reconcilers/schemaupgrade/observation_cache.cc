// ObservationCache (see observation_cache.h).
#include "reconcilers/schemaupgrade/observation_cache.h"

#include "reconcilers/base/sha256.h"

namespace su {

ObservationCache::Digest ObservationCache::Compact(const std::string& digest) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  // Sha256Hex's output is 64 lowercase hex characters: the recursion ends there.
  if (digest.size() != 64) return Compact(Sha256Hex(digest));
  Digest out{};
  for (size_t i = 0; i < 32; ++i) {
    int hi = nibble(digest[2 * i]), lo = nibble(digest[2 * i + 1]);
    if (hi < 0 || lo < 0) return Compact(Sha256Hex(digest));
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

std::shared_ptr<const EngineState> ObservationCache::Find(const std::string& key, const std::string& digest) {
  WaitLoaded();
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.digest != Compact(digest) ||
      clock_->MonotonicNow() - it->second.full_at >= full_every_) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  return it->second.state;
}

void ObservationCache::Put(const std::string& key, const std::string& digest, const std::string& shared,
                           const EngineState& state) {
  WaitLoaded();
  if (!state.pending.empty() || !state.backfills.empty()) {
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
  entries_[key] = Entry{Compact(digest), std::move(s), clock_->MonotonicNow()};
  ++changes_;
}

void ObservationCache::WaitLoaded() const {
  if (!loading_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> l(loader_mu_);
  if (loader_.joinable()) loader_.join();
  loading_.store(false, std::memory_order_release);
}

void ObservationCache::LoadInBackground(FileSystem* fs, std::string file, std::string tag) {
  WaitLoaded();
  std::lock_guard<std::mutex> l(loader_mu_);
  loading_.store(true, std::memory_order_release);
  loader_ = std::thread([this, fs, file = std::move(file), tag = std::move(tag)] { Load(fs, file, tag); });
}

void ObservationCache::Drop(const std::string& key) {
  WaitLoaded();
  std::lock_guard<std::mutex> l(mu_);
  if (entries_.erase(key) > 0) ++changes_;
}

size_t ObservationCache::size() const {
  WaitLoaded();
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

long long ObservationCache::hits() const {
  WaitLoaded();
  std::lock_guard<std::mutex> l(mu_);
  return hits_;
}

long long ObservationCache::misses() const {
  WaitLoaded();
  std::lock_guard<std::mutex> l(mu_);
  return misses_;
}

}  // namespace su
