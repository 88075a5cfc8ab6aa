// Informer: keeps an in-memory copy of one resource kind, as client-go's shared informer does.
// For each watched namespace (or all of them): list, then watch from the list's resourceVersion
// with bookmarks; on 410 Gone re-list (and report what changed meanwhile as add/update/delete);
// on a dropped connection reconnect with jittered exponential backoff and resume from the last
// resourceVersion seen. Events reach the handler as keys ("ns/name"), never objects: the handler
// reads the cache (Get) when it works on a key, so it always sees the latest state.
// No cpprestsdk here; the informer talks to a KubeApi.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "kube/api.h"

namespace su::kube {

enum class InformerEvent { kAdd, kUpdate, kDelete, kResync };
const char* InformerEventName(InformerEvent e);

struct InformerOptions {
  GroupVersionResource gvr = kSchemaUpgrades;
  std::vector<std::string> namespaces;  // empty: all namespaces (one cluster-wide list/watch)
  std::string label_selector;
  std::chrono::milliseconds resync_period{0};  // 0: no periodic resync
  // Reconnect backoff: initial doubling to max, each delay times a random factor in [1, 2) (client-go
  // uses 800 ms / 30 s with jitter 1.0).
  std::chrono::milliseconds backoff_initial{800};
  std::chrono::milliseconds backoff_max{30000};
  int watch_timeout_seconds = 0;  // 0: a random 5-10 minutes per watch, as client-go
  // Cache objects without metadata.managedFields and kubectl's last-applied annotation
  // (ParseObjectMetaTrimmed): no reader of the cache needs them, and they are most of its memory.
  bool trim_metadata = true;
};

class Informer {
 public:
  // Called from the informer's threads (one per namespace, one for resync); must be thread-safe and
  // quick (enqueue the key). Events of one namespace arrive in order.
  using Handler = std::function<void(InformerEvent, const std::string& key)>;

  Informer(KubeApi* api, InformerOptions options, Handler handler);
  ~Informer();  // Stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void Start();
  // Ends every watch and joins the threads. Idempotent.
  void Stop();
  // True once every namespace has been listed and its initial events delivered (for /readyz).
  bool HasSynced() const;
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  // The cached object as JSON; nullopt when absent.
  std::optional<std::string> Get(const std::string& key) const;
  std::vector<std::string> Keys() const;
  // The cached resourceVersion of each key (tests compare it with the server).
  std::map<std::string, std::string> ResourceVersions() const;

  struct Stats {
    int lists = 0;          // successful lists (1 per namespace, plus re-lists)
    int watches = 0;        // watch requests started
    int gone = 0;           // 410 answers that forced a re-list
    int errors = 0;         // failed lists/watches (each followed by a backoff)
  };
  Stats stats() const;
  // The last error, for logs and health ("" when none).
  std::string last_error() const;

 private:
  struct Entry {
    std::string json;
    std::string resource_version;
  };
  using Events = std::vector<std::pair<InformerEvent, std::string>>;

  void Run(const std::string& ns, std::stop_token stop);
  void Resync(std::stop_token stop);
  // Replaces the cache entries of scope ns ("" = all) with items; returns the events that makes.
  Events Replace(const std::string& ns, const std::vector<std::string>& items);
  // Applies one watch event; returns the handler events and updates *rv.
  Events Apply(const WatchEvent& ev, std::string* rv);
  void Deliver(const Events& events);
  // Sleeps d or until stop; false when stopped.
  bool SleepFor(std::chrono::milliseconds d, std::stop_token stop);
  std::chrono::milliseconds NextBackoff(int attempt);
  void NoteError(const std::string& message);

  KubeApi* const api_;
  const InformerOptions options_;
  const Handler handler_;

  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;  // signalled on sync and stop
  std::map<std::string, Entry> cache_;  // guarded by mu_
  std::map<std::string, bool> synced_;  // guarded by mu_; per namespace scope
  Stats stats_;                         // guarded by mu_
  std::string last_error_;              // guarded by mu_
  std::vector<std::jthread> threads_;
  bool started_ = false;
};

}  // namespace su::kube
