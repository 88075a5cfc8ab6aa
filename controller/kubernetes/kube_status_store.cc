// KubeStatusStore (see kube_status_store.h). cpprestsdk's JSON stays in this file.
#include "controller/kubernetes/kube_status_store.h"

#include <cpprest/json.h>

#include "kube/object_meta.h"
#include "reconcilers/schemaupgrade/status_json.h"

namespace su::kube {
namespace {

using web::json::value;

value Parse(const std::string& s) {
  if (s.empty()) return value::null();
  try {
    return value::parse(s);
  } catch (const std::exception&) {
    return value::null();
  }
}

// to + null for what from has and to lacks (objects recursively).
value Replacing(const value& from, const value& to) {
  if (!from.is_object() || !to.is_object()) return to;
  value out = to;
  for (const auto& [k, v] : from.as_object()) {
    if (!to.has_field(k)) {
      out[k] = value::null();
    } else if (v.is_object() && to.at(k).is_object()) {
      out[k] = Replacing(v, to.at(k));
    }
  }
  return out;
}

// Our status JSON as the CRD declares it: `resource` is the state file's own field (the object's
// name says it here) and is not in the schema, which would prune it with a warning.
std::string ForApi(const ResourceStatus& status) {
  value v = Parse(StatusToJson(status));
  if (v.is_object() && v.has_field("resource")) v.erase("resource");
  return v.serialize();
}

}  // namespace

bool SameButTimestamps(const std::string& a, const std::string& b) {
  value x = Parse(a), y = Parse(b);
  if (!x.is_object() || !y.is_object()) return false;
  for (value* v : {&x, &y}) {
    for (const char* f : {"observedAt", "updatedAt"}) {
      if (v->has_field(f)) v->erase(f);
    }
  }
  return x == y;
}

std::string StatusOf(const std::string& object_json) {
  value o = Parse(object_json);
  if (!o.is_object() || !o.has_field("status") || !o.at("status").is_object()) return "";
  return o.at("status").serialize();
}

std::string StatusMergePatch(const std::string& from, const std::string& to, const std::string& rv) {
  value patch = value::object();
  value meta = value::object();
  meta["resourceVersion"] = value::string(rv);
  patch["metadata"] = meta;
  patch["status"] = Replacing(Parse(from), Parse(to));
  return patch.serialize();
}

KubeStatusStore::KubeStatusStore(KubeStatusStoreOptions options) : o_(std::move(options)) {}

Result<std::optional<ResourceStatus>> KubeStatusStore::Decode(const std::string& key,
                                                             const std::string& status_json) const {
  value v = Parse(status_json);
  // An object nobody reconciled yet has no status, or one without a phase (e.g. only written by hand).
  if (!v.is_object() || !v.has_field("phase")) return std::optional<ResourceStatus>();
  ResourceStatus s;
  std::string err;
  if (!StatusFromJson(status_json, &s, &err)) {
    return Status::Invalid("SchemaUpgrade " + key + ": status: " + err +
                           " (clear it with kubectl patch --subresource=status --type=merge -p '{\"status\":null}')");
  }
  s.resource = key;
  return std::optional<ResourceStatus>(std::move(s));
}

Result<std::optional<ResourceStatus>> KubeStatusStore::Load(const std::string& key) {
  std::optional<std::string> obj = o_.cached ? o_.cached(key) : std::nullopt;
  std::string uid, rv;
  if (obj) {
    auto meta = ParseObjectMeta(*obj);
    if (meta.ok()) {
      uid = meta->uid;
      rv = meta->resource_version;
    }
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = written_.find(key);
    if (it != written_.end()) {
      if (obj && it->second.uid != uid) {
        written_.erase(it);  // a new object under the same name
      } else if (obj && !rv.empty() && rv == it->second.resource_version) {
        // The cache carries our write: drop the copy (a status per object is most of this
        // store's memory) and read the cache from now on.
        std::string().swap(it->second.status_json);
        it->second.caught_up = true;
      } else if (!it->second.caught_up) {
        return Decode(key, it->second.status_json);
      }
    }
  }
  if (!obj) return std::optional<ResourceStatus>();
  return Decode(key, StatusOf(*obj));
}

bool KubeStatusStore::Unchanged(const std::string& key, const std::string& want,
                                const std::optional<std::string>& cached) {
  if (o_.timestamps_refresh.count() <= 0 || !cached) return false;
  auto meta = ParseObjectMeta(*cached);
  if (!meta.ok()) return false;
  // Spread the refreshes over the second half of the period, by key.
  const auto half = o_.timestamps_refresh / 2;
  const auto refresh = half + std::chrono::milliseconds(
                                  static_cast<long long>(std::hash<std::string>{}(key) % (half.count() + 1)));
  std::lock_guard<std::mutex> l(mu_);
  auto it = written_.find(key);
  if (it == written_.end() || it->second.uid != meta->uid) return false;
  if (o_.now() - it->second.at >= refresh) return false;
  // The cache carries what we wrote (not a hand edit, not a lagging older status) and it differs
  // from the new status in the timestamps only. Once caught up, "carries what we wrote" is the
  // cache still being at the resourceVersion our write made.
  std::string in_cache = StatusOf(*cached);
  if (it->second.caught_up) {
    if (meta->resource_version != it->second.resource_version) return false;
  } else if (!SameButTimestamps(in_cache, it->second.status_json)) {
    return false;
  }
  if (!SameButTimestamps(in_cache, want)) return false;
  ++unchanged_;
  return true;
}

Status KubeStatusStore::Save(const std::string& key, const ResourceStatus& status) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return Status::Invalid("status key " + key + " is not namespace/name");
  ResourcePath path{o_.gvr, key.substr(0, slash), key.substr(slash + 1), "status"};
  const std::string want = ForApi(status);

  // The base the patch is computed against: what we last wrote, else the cache, else a GET.
  std::string base_status, rv, uid;
  bool have = false, written_before = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = written_.find(key);
    if (it != written_.end()) {
      written_before = true;
      if (!it->second.caught_up) {  // else the cache holds it: the base comes from the cache below
        base_status = it->second.status_json;
        rv = it->second.resource_version;
        uid = it->second.uid;
        have = true;
      }
    }
  }
  std::optional<std::string> cached = o_.cached ? o_.cached(key) : std::nullopt;
  if (written_before && Unchanged(key, want, cached)) return Status::Ok();
  if (cached) {
    auto meta = ParseObjectMeta(*cached);
    if (meta.ok() && (!have || meta->uid != uid)) {
      base_status = StatusOf(*cached);
      rv = meta->resource_version;
      uid = meta->uid;
      have = true;
    }
  }
  ResourcePath object{o_.gvr, path.ns, path.name, ""};
  for (int attempt = 0;; ++attempt) {
    if (!have) {
      auto fresh = o_.api->Get(object);
      if (!fresh.ok()) return fresh.status().WithContext("status of SchemaUpgrade " + key);
      auto meta = ParseObjectMeta(*fresh);
      if (!meta.ok()) return meta.status().WithContext("status of SchemaUpgrade " + key);
      base_status = StatusOf(*fresh);
      rv = meta->resource_version;
      uid = meta->uid;
      have = true;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      ++patches_;
    }
    auto r = o_.api->Patch(path, PatchType::kMerge, StatusMergePatch(base_status, want, rv));
    if (r.ok()) {
      auto meta = ParseObjectMeta(*r);
      std::lock_guard<std::mutex> l(mu_);
      written_[key] = {meta.ok() ? meta->uid : uid, meta.ok() ? meta->resource_version : "", StatusOf(*r), o_.now(),
                       false};
      return Status::Ok();
    }
    if (!r.error().IsConflict() || attempt >= o_.conflict_retries) {
      return r.status().WithContext("status of SchemaUpgrade " + key);
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      ++conflicts_;
    }
    have = false;  // re-read and retry
  }
}

Result<std::map<std::string, ResourceStatus>> KubeStatusStore::List() {
  std::map<std::string, ResourceStatus> out;
  if (!o_.keys) return out;
  for (const auto& key : o_.keys()) {
    SU_ASSIGN_OR_RETURN(auto s, Load(key));
    if (s) out[key] = std::move(*s);
  }
  return out;
}

void KubeStatusStore::Forget(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  written_.erase(key);
}

int KubeStatusStore::patches() const {
  std::lock_guard<std::mutex> l(mu_);
  return patches_;
}

int KubeStatusStore::unchanged() const {
  std::lock_guard<std::mutex> l(mu_);
  return unchanged_;
}

int KubeStatusStore::conflicts() const {
  std::lock_guard<std::mutex> l(mu_);
  return conflicts_;
}

}  // namespace su::kube
