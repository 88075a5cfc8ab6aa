// ObservationCache: what the last pass over each resource at its target observed, so the next
// pass costs one database round trip (issue 10) instead of re-reading the history and the folder.
//
// A pass looks an entry up by a digest of everything its observation depends on: the spec (its
// SpecToken), the migration source's stamp (Engine::SourceStamp: names, inodes, sizes and times
// of the files, no reads), the history's mark (Engine::HistoryMarkSql, read in the same round
// trip as the database's identity) and that identity. Any change to one of them misses; so do
// entries whose last full read is older than full_every (the slow cadence that also catches an
// edit no stamp shows). Only states with nothing pending are kept (a resource at its target:
// the pending files' texts are never held here). A pass that fails, or that changed anything,
// drops its entry (Reconciler::Pass). States equal across resources (many resources, one
// database and folder) are shared. Thread-safe; one entry per resource key (about 130 bytes with
// the map node: the digest is kept as its 32 bytes, not as text).
//
// Persistence (observation_file.cc), for a short-lived process: `apply` loads the last run's
// entries from its state dir and saves them back, so a no-op apply skips the history read, the
// pairing of the folder and the checksums file, as a controller pass does. An entry keeps the wall
// time of its full read: full_every still applies across processes, and an entry whose full read
// seems to lie in the future (the clock was set back) is not loaded. The file names a writer tag
// (the CLI: its own binary's identity) and a format version; a file of another tag or version,
// or malformed anywhere, is ignored whole (the cache starts empty: it is only a shortcut). Save
// writes atomically, and not at all when no entry was put or dropped since Load (a no-op apply
// writes nothing). Saving states from a stale Load is harmless: an entry only ever hits under the
// digest of the very source, history and database it was observed from.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "reconcilers/base/clock.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"
#include "reconcilers/engines/engine.h"

namespace su {

class ObservationCache {
 public:
  explicit ObservationCache(std::chrono::milliseconds full_every = std::chrono::minutes(10), Clock* clock = RealClock())
      : full_every_(full_every), clock_(clock) {}

  // The state cached for key under digest, unless absent, of another digest, or due for a full read.
  std::shared_ptr<const EngineState> Find(const std::string& key, const std::string& digest);
  // Caches state (ignored when something is pending) for key under digest; a full read now.
  // Resources whose states come from the same source, history and database (same `shared`,
  // a digest of those) share one copy.
  void Put(const std::string& key, const std::string& digest, const std::string& shared, const EngineState& state);
  void Drop(const std::string& key);

  void Load(FileSystem* fs, const std::string& file, const std::string& tag);
  // Load on a thread of its own (the CLI reads the file while it connects); every other call
  // first waits for it to finish.
  void LoadInBackground(FileSystem* fs, std::string file, std::string tag);
  Status Save(FileSystem* fs, const std::string& file, const std::string& tag);
  ~ObservationCache() { WaitLoaded(); }

  size_t size() const;
  long long hits() const;    // Find calls answered from the cache
  long long misses() const;  // Find calls that were not

 private:
  using Digest = std::array<unsigned char, 32>;
  // A 64-character hex digest as its bytes; any other string (tests) as the SHA-256 of it.
  static Digest Compact(const std::string& digest);
  void WaitLoaded() const;
  struct Entry {
    Digest digest;
    std::shared_ptr<const EngineState> state;
    Clock::MonoTimePoint full_at;
  };
  const std::chrono::milliseconds full_every_;
  Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;                        // guarded by mu_
  std::map<std::string, std::weak_ptr<const EngineState>> shared_;  // guarded by mu_: by `shared`
  long long hits_ = 0, misses_ = 0;                             // guarded by mu_
  mutable std::mutex loader_mu_;
  mutable std::thread loader_;  // guarded by loader_mu_
  mutable std::atomic<bool> loading_{false};
  // Put and Drop calls (guarded by mu_), and their count when the file was last loaded or saved.
  long long changes_ = 0, saved_changes_ = -1;
};

}  // namespace su
