// WorkQueue: client-go's rate-limited work queue for string keys. A key is queued at most once
// however often it is added, is never handed to two workers at once (re-adding a key that is being
// processed re-queues it after Done), and failures back off per key exponentially, under an overall
// token bucket. Delays are measured on the Clock's monotonic reading (a wall-clock step neither
// fires nor stalls them), so tests drive them with a FakeClock.
//
// Two priorities: work caused by a change (Add: a manifest edit, a watch event; AddAfter once its
// delay has passed: a retry or requeue that is due) goes ahead of periodic resync work (AddResync),
// so an edit never waits behind a full resync. Resync work is not starved: after high_burst
// change keys in a row while resync keys wait, one resync key is handed out. A resync key that
// is Added meanwhile moves to the change queue (it keeps one place in the queue).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "reconcilers/base/clock.h"

namespace su {

// Per-key exponential backoff: initial * 2^failures, capped at max (client-go: 5 ms .. 1000 s).
struct Backoff {
  std::chrono::milliseconds initial{5};
  std::chrono::milliseconds max{1000 * 1000};
};

struct WorkQueueOptions {
  Clock* clock = RealClock();
  Backoff default_backoff;
  // Overall token bucket shared by all keys (client-go: 10 qps, burst 100). qps <= 0 disables it.
  double qps = 10;
  int burst = 100;
  // The longest Get sleeps before re-reading the clock while delayed keys wait. A FakeClock does not
  // wake sleepers, so this bounds how late Get notices an Advance; Tick() wakes it at once.
  std::chrono::milliseconds poll_interval{100};
  // Change keys handed out in a row while resync keys wait before one resync key goes (>= 1).
  int high_burst = 10;
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Marks key as needing processing, ahead of resync work. No-op if already queued as a change
  // or after ShutDown; a key queued by a resync moves ahead.
  void Add(const std::string& key);
  // Like Add, behind change work (a periodic resync). No-op if the key is already queued.
  void AddResync(const std::string& key);
  // Adds key once delay has passed on the clock. A key already waiting keeps the earlier time.
  void AddAfter(const std::string& key, std::chrono::milliseconds delay);
  // AddAfter(key, the next backoff for key); counts one more requeue. Returns the delay chosen.
  std::chrono::milliseconds AddRateLimited(const std::string& key);
  // Resets key's failure count (call after a success), so its next backoff starts at initial.
  void Forget(const std::string& key);
  // How many times AddRateLimited ran for key since the last Forget.
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is ready (returned and marked processing) or the queue shuts down (nullopt).
  // The caller must call Done(key) when finished with it.
  std::optional<std::string> Get();
  // Like Get but gives up after timeout (real time); nullopt on timeout or shutdown.
  std::optional<std::string> GetFor(std::chrono::milliseconds timeout);
  // Ends processing of key; re-queues it if it was added meanwhile.
  void Done(const std::string& key);

  // Stops handing out keys: Get returns nullopt from now on, Add is ignored. Keys being processed
  // may still call Done.
  void ShutDown();
  // ShutDown, then waits until every key handed out has been Done.
  void ShutDownWithDrain();
  bool ShuttingDown() const;

  // Wakes waiting Get calls so they re-read the clock (use after FakeClock::Advance).
  void Tick();

  // Keys ready to be handed out now (excludes processing and delayed keys), of both priorities.
  size_t Len() const;
  // Of those, the keys queued by a resync.
  size_t LenResync() const;
  // Keys waiting for a delay to pass.
  size_t NumDelayed() const;
  // Keys currently handed out.
  size_t NumProcessing() const;
  // Keys the queue holds any state for (queued, processing, delayed, or with failures to Forget):
  // each is stored once; a key with none is dropped.
  size_t NumKeys() const;

 private:
  // Everything the queue knows of one key, in one map entry, so a key's string is stored once
  // however many queues and sets it is in (at 10,000 resources a resync queues every key).
  struct Entry {
    bool dirty = false;       // needs processing (queued, or re-queued at Done)
    bool resync = false;      // its pending pass is resync work (queued or at Done)
    bool processing = false;  // handed out and not yet Done
    bool delayed = false;     // waiting in delayed_ until `when`
    Clock::MonoTimePoint when{};
    int failures = 0;         // AddRateLimited calls since the last Forget
    int queued = 0;           // entries in queue_ and resync_queue_ naming it, live or stale
  };
  using Keys = std::unordered_map<std::string, Entry>;
  // A key as the queues hold it: the map's node, which stays put until the entry is erased, and it
  // is erased only when nothing names it any more (Release).
  using Ref = Keys::value_type*;

  void AddLocked(const std::string& key, bool resync = false);
  void PushLocked(Ref ref, bool resync);
  std::optional<Ref> PopLocked();
  void PromoteReadyLocked(Clock::MonoTimePoint now);
  std::chrono::milliseconds BucketDelayLocked(Clock::MonoTimePoint now);
  std::optional<std::string> GetUntil(std::optional<std::chrono::steady_clock::time_point> deadline);
  // Erases ref's entry when it holds no state and no queue names it.
  void ReleaseLocked(Ref ref);

  const WorkQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;        // a key became ready, Tick, or shutdown
  std::condition_variable drained_;   // no key is being processed
  Keys keys_;
  std::deque<Ref> queue_;             // ready change keys, FIFO
  // Ready resync keys, FIFO. May hold stale entries (a key since moved to queue_ or handed out):
  // only entries whose key is resync work and not processing are live; PopLocked skips the others.
  std::deque<Ref> resync_queue_;
  std::set<std::pair<Clock::MonoTimePoint, Ref>> delayed_;  // by due time
  int high_in_a_row_ = 0;             // change keys handed out since the last resync key
  size_t processing_count_ = 0;
  double tokens_;
  Clock::MonoTimePoint bucket_last_;
  bool shutting_down_ = false;
};

}  // namespace su
