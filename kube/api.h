// KubeApi: the Kubernetes REST verbs on a resource path, with JSON bodies as strings. No cpprestsdk
// here: rest_client.h makes the real one, tests use a fake. Callers parse and build JSON with
// whatever their module uses; object_meta.h pulls out the metadata everyone needs.
//
// Contract for every call: thread-safe; blocks until the answer (or the client's timeout); a
// non-2xx answer or a transport failure is an ApiError (api_error.h); the bearer token never
// appears in an error or a log line. Calls are throttled client-side (RestConfig qps/burst).
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "kube/api_error.h"

namespace su::kube {

// A resource kind as the API serves it. group "" is the core group (/api/v1).
struct GroupVersionResource {
  std::string group;
  std::string version;
  std::string resource;  // plural, lower case: "schemaupgrades"
  bool namespaced = true;
};

// RBAC follows the calls: tests/integration/deploy/test_rbac_calls.py reads every KubeApi call and
// compares it with manifests/rbac.yaml and the chart. Name each resource with a constant like this
// one and build the ResourcePath from it (docs/kubernetes.md, "RBAC"), so the test can read the call.
inline const GroupVersionResource kSchemaUpgrades{"olympus.io", "v1alpha1", "schemaupgrades", true};

// Percent-encodes everything but RFC 3986 unreserved characters: for path segments (names are
// DNS-1123, so this is a safety net against a '/' or '?' smuggled in) and query values.
std::string PercentEncode(const std::string& s);

// Where a call goes. name empty: the collection. ns empty on a namespaced resource: all namespaces
// (list/watch only). subresource: "status", ...
struct ResourcePath {
  GroupVersionResource gvr;
  std::string ns = {};
  std::string name = {};
  std::string subresource = {};
  // Get only: a query string without the '?' (e.g. "container=app&tailLines=20" for pods/log); the
  // caller percent-encodes values. Not part of Url() or Describe().
  std::string query = {};
  // "/apis/olympus.io/v1alpha1/namespaces/ns/schemaupgrades/name/status"; names are percent-encoded.
  std::string Url() const;
  // "schemaupgrades.olympus.io \"name\" in namespace ns", for messages.
  std::string Describe() const;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int limit = 0;                // 0: no paging; otherwise List follows `continue` and returns every item
  std::string resource_version;  // "" : the latest (a consistent read)
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // watch changes after this one; "" or "0": start with ADDED for all
  bool allow_bookmarks = true;
  int timeout_seconds = 0;       // server-side end of the stream; 0: a random 5-10 minutes, as client-go
};

enum class PatchType {
  kMerge,  // application/merge-patch+json (RFC 7386)
  kJson,   // application/json-patch+json (RFC 6902)
  kApply,  // application/apply-patch+yaml (server-side apply; JSON is YAML); needs field_manager
};

struct WriteOptions {
  std::string field_manager;  // fieldManager=; required for kApply
  bool force = false;         // force=true (kApply only): take the fields over from other managers
  bool dry_run = false;       // dryRun=All
};

struct DeleteOptions {
  std::string precondition_uid;
  std::string precondition_resource_version;
  std::string propagation_policy;  // "", Foreground, Background, Orphan
};

struct WatchEvent {
  std::string type;    // ADDED, MODIFIED, DELETED, BOOKMARK (ERROR events end Watch with an ApiError)
  std::string object;  // the object as JSON
};

struct ListResult {
  std::string resource_version;     // of the list: watch from it
  std::vector<std::string> items;   // each item as JSON, with apiVersion/kind filled in
};

class KubeApi {
 public:
  virtual ~KubeApi() = default;

  virtual ApiResult<std::string> Get(const ResourcePath& path) = 0;
  virtual ApiResult<ListResult> List(const ResourcePath& path, const ListOptions& options = {}) = 0;
  // body: the object as JSON. Returns the stored object.
  virtual ApiResult<std::string> Create(const ResourcePath& path, const std::string& body,
                                        const WriteOptions& options = {}) = 0;
  // PUT: body carries metadata.resourceVersion; a stale one is a 409 (IsConflict()).
  virtual ApiResult<std::string> Update(const ResourcePath& path, const std::string& body,
                                        const WriteOptions& options = {}) = 0;
  virtual ApiResult<std::string> Patch(const ResourcePath& path, PatchType type, const std::string& body,
                                       const WriteOptions& options = {}) = 0;
  // Returns the answer's body (the object when finalizers keep it, else a Status).
  virtual ApiResult<std::string> Delete(const ResourcePath& path, const DeleteOptions& options = {}) = 0;

  // Streams events to on_event until the server ends the stream (returns an ok ApiResult<bool> with
  // true), stop is requested (false), on_event returns false (false), or an error: an ERROR event
  // (410 Gone shows as IsGone()), a non-2xx answer, or a dropped connection (http_status 0).
  // on_event runs on the calling thread.
  using EventHandler = std::function<bool(const WatchEvent&)>;
  virtual ApiResult<bool> Watch(const ResourcePath& path, const WatchOptions& options, const EventHandler& on_event,
                                std::stop_token stop = {}) = 0;
};

}  // namespace su::kube
