// KubeEventRecorder: the EventRecorder of Kubernetes mode. Each event becomes an events.k8s.io/v1
// Event regarding the SchemaUpgrade (apiVersion, kind, namespace, name, uid, resourceVersion), so
// `kubectl describe su NAME` tells the story (the API serves events.k8s.io/v1 and core/v1 Events
// from one storage; kubectl describe reads the latter).
//  - Aggregation (client-go's event series): a repeat of the same (object uid, type, reason,
//    message) within `aggregation_window` of its last occurrence updates the existing Event's
//    series (count, lastObservedTime) with a merge patch instead of creating another object.
//  - Rate limit per object (client-go's spam filter: a burst of 25, then one per 5 minutes): a
//    creation over the limit is dropped; a series update over the limit is kept and sent later.
//  - Record() only queues (bounded; dropped and counted when full): a worker never waits for the
//    API. One background thread writes; Stop() flushes what is queued for at most `flush_timeout`.
//  - note is truncated to 1024 bytes (the API's limit) on a UTF-8 boundary; messages are scrubbed.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "controller/runtime/event_recorder.h"
#include "kube/api.h"
#include "reconcilers/base/clock.h"

namespace su::kube {

inline const GroupVersionResource kEventsV1{"events.k8s.io", "v1", "events", true};

// The object an Event is about.
struct ObjectRef {
  std::string api_version = "olympus.io/v1alpha1";
  std::string kind = "SchemaUpgrade";
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
};

struct KubeEventRecorderOptions {
  KubeApi* api = nullptr;
  // key -> the object now (the informer cache); nullopt: it is gone and the event is dropped.
  std::function<std::optional<ObjectRef>(const std::string& key)> lookup;
  std::string reporting_controller = "olympus.io/schema-upgrade-operator";
  std::string reporting_instance;  // this replica (pod name); default: the host name
  Clock* clock = RealClock();      // eventTime / lastObservedTime
  std::function<std::chrono::steady_clock::time_point()> monotonic = [] { return std::chrono::steady_clock::now(); };
  std::chrono::milliseconds aggregation_window{std::chrono::minutes(10)};
  int burst = 25;
  std::chrono::milliseconds refill{std::chrono::minutes(5)};
  size_t queue_limit = 1000;
  std::chrono::milliseconds flush_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds flush_period{std::chrono::seconds(30)};  // pending series updates
};

class KubeEventRecorder : public EventRecorder {
 public:
  explicit KubeEventRecorder(KubeEventRecorderOptions options);
  ~KubeEventRecorder() override;  // Stop()

  void Record(const std::string& key, const std::string& type, const std::string& reason,
              const std::string& message) override;

  // Writes what is queued (bounded by flush_timeout), then ends the thread. Idempotent.
  void Stop();

  struct Stats {
    int created = 0;      // Event objects created
    int series = 0;       // series updates sent
    int aggregated = 0;   // repeats folded into a series
    int dropped = 0;      // queue full, rate limited creations, object gone
    int failed = 0;       // API errors
  };
  Stats stats() const;
  // Blocks until the queue is empty and nothing is being written (tests), or timeout.
  bool WaitIdle(std::chrono::milliseconds timeout);

 private:
  struct Item {
    std::string key, type, reason, message;
    Clock::TimePoint at;
  };
  struct Series {
    std::string name;  // the Event object
    std::string ns;
    int count = 1;
    int sent_count = 1;  // count the API has
    Clock::TimePoint last_observed;
    std::chrono::steady_clock::time_point last_seen;  // monotonic, for the window
  };
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  void Run();
  void Write(const Item& item);
  void FlushSeries(bool all);
  bool Take(const std::string& uid);  // one token of uid's bucket
  bool PatchSeries(const std::string& id, Series* s);

  KubeEventRecorderOptions o_;  // reporting_instance filled in by the constructor
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;               // guarded by mu_
  bool stopping_ = false;                // guarded by mu_
  bool busy_ = false;                    // guarded by mu_: an item is being written
  Stats stats_;                          // guarded by mu_
  // Writer-thread state (only Run touches these).
  std::map<std::string, Series> series_;  // (uid|type|reason|message) -> its Event
  std::map<std::string, Bucket> buckets_;  // uid -> spam filter
  std::thread thread_;
};

// MicroTime as the API writes it: 2026-12-01T18:00:00.123456Z.
std::string FormatMicroTime(Clock::TimePoint t);

}  // namespace su::kube
