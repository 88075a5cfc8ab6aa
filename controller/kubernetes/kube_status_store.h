// KubeStatusStore: the reconciler's StatusStore (the status sink) in Kubernetes mode: the `status`
// subresource of each SchemaUpgrade.
//  - Load reads the informer's cache, overlaid with the last status this store wrote for the same
//    object (uid): the cache lags our own writes by one watch event, and a pass must start from what
//    the previous pass saved. Once the cache is seen at the resourceVersion our write made, the
//    store drops its copy and reads the cache (one copy of each status in memory, not two), so a
//    status edited by hand after that is what Load returns (and the next Save writes over it).
//  - Save is a JSON merge patch of `status` only (never spec) on the status subresource, carrying
//    metadata.resourceVersion as a precondition so the fields it removes (null) are computed
//    against what is really stored; on 409 Conflict it re-reads the object (GET) and retries.
//    The whole status is replaced: fields absent from the new status are removed.
//  - A Save that would change nothing but the timestamps `observedAt` and `updatedAt` (a no-op
//    resync pass) sends nothing while the object in the cache still carries the status this store
//    last wrote for it and that write is younger than `timestamps_refresh` (spread per key over its
//    second half, so a thousand resources do not all refresh in one resync). Otherwise every
//    resync would be one PATCH per resource, and at the client's QPS a resync of 1000 objects
//    would hold the throttle for minutes, delaying the status of a real edit behind it. So in the
//    API, observedAt may lag the last check by up to `timestamps_refresh` while nothing changes.
// Key "namespace/name". Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kube/api.h"
#include "reconcilers/schemaupgrade/status_store.h"

namespace su::kube {

struct KubeStatusStoreOptions {
  KubeApi* api = nullptr;
  GroupVersionResource gvr = kSchemaUpgrades;
  // The informer cache: the object of key as JSON, nullopt when absent; and every cached key.
  std::function<std::optional<std::string>(const std::string& key)> cached;
  std::function<std::vector<std::string>()> keys;
  int conflict_retries = 5;  // re-reads after a 409 before Save gives up (kUnavailable: retried later)
  // A status changing only in its timestamps is written again after at most this long (>= 0; 0:
  // always written).
  std::chrono::milliseconds timestamps_refresh{std::chrono::hours(1)};
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
};

class KubeStatusStore : public StatusStore {
 public:
  explicit KubeStatusStore(KubeStatusStoreOptions options);

  Result<std::optional<ResourceStatus>> Load(const std::string& key) override;
  Status Save(const std::string& key, const ResourceStatus& status) override;
  Result<std::map<std::string, ResourceStatus>> List() override;

  // The object is gone: forget what this store wrote for it.
  void Forget(const std::string& key);

  // Status patches sent, 409s met, and Saves that sent nothing (only timestamps changed), for
  // /metrics and tests.
  int patches() const;
  int conflicts() const;
  int unchanged() const;

 private:
  struct Written {
    std::string uid;
    std::string resource_version;
    std::string status_json;  // as the server answered it (pruned to the CRD schema); "" once caught_up
    std::chrono::steady_clock::time_point at;  // when it was written
    // The informer's cache was seen at resource_version (it holds this write): status_json is
    // dropped and the cache is read instead, so a watched object's status is kept once, not twice.
    bool caught_up = false;
  };
  // True when the status `want` (JSON) need not be sent for key: see the header comment.
  bool Unchanged(const std::string& key, const std::string& want, const std::optional<std::string>& cached);
  // The object's JSON -> its status as ResourceStatus; nullopt when it has none yet.
  Result<std::optional<ResourceStatus>> Decode(const std::string& key, const std::string& status_json) const;

  const KubeStatusStoreOptions o_;
  mutable std::mutex mu_;
  std::map<std::string, Written> written_;  // guarded by mu_
  int patches_ = 0;                         // guarded by mu_
  int conflicts_ = 0;                       // guarded by mu_
  int unchanged_ = 0;                       // guarded by mu_
};

// The merge patch that turns status `from` (JSON object, or "" for none) into `to` at object
// resourceVersion rv: `to`'s fields plus null for every field of `from` that `to` lacks (objects
// recursively; arrays are replaced whole, as merge patches do). Exposed for tests.
std::string StatusMergePatch(const std::string& from, const std::string& to, const std::string& rv);

// True when the two status JSON objects are equal but for `observedAt` and `updatedAt` (false when
// either is not a JSON object). Exposed for tests.
bool SameButTimestamps(const std::string& a, const std::string& b);

// The `status` of an object's JSON as a JSON string; "" when absent, null or not an object.
std::string StatusOf(const std::string& object_json);

}  // namespace su::kube
