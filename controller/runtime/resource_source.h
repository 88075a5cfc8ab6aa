// ResourceSource: where the controller's desired state comes from, as controller-runtime's Source:
// the manifests folder (folder_source.h) or the Kubernetes informer on SchemaUpgrades
// (controller/kubernetes/informer_source.h); FakeResourceSource (tests/support/fakes) for tests.
// A source reports keys ("namespace/name"), never objects: the worker reads Get(key) when it works
// on a key, so it always sees the latest state (level-based).
//
// Contract for every implementation: thread-safe; handler calls come from the source's own
// threads, one at a time per key, and must be quick (enqueue the key).
//   changed(key):  the desired state of key was created or changed (new spec, new generation, an
//                  annotation). A write of the resource's own status is NOT a change.
//   resynced(key): the periodic resync listed key, nothing known changed.
//   removed(key):  key is gone from the source.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "api/spec.h"
#include "reconcilers/base/result.h"

namespace su {

struct ResourceHandler {
  std::function<void(const std::string& key)> changed;
  std::function<void(const std::string& key)> resynced;
  std::function<void(const std::string& key)> removed;
};

// What the source holds for one key.
struct SourcedResource {
  std::string key;
  long long generation = 0;  // metadata.generation (the file's, or 1), also when invalid
  // The resource, or why it fails our validation (kInvalidArgument naming the object and the field):
  // such an object goes Stalled with that message and nothing runs for it.
  Result<SchemaUpgrade> resource = Status::Invalid("not loaded");
};

class ResourceSource {
 public:
  virtual ~ResourceSource() = default;
  // Starts delivering to handler (the initial listing arrives as changed()). Once.
  virtual Status Start(ResourceHandler handler) = 0;
  // Stops the source's threads; no handler call runs after it returns. Idempotent.
  virtual void Stop() = 0;
  // True once the initial listing was delivered (for /readyz).
  virtual bool HasSynced() const = 0;
  // nullopt: key is not (or no longer) in the source.
  virtual std::optional<SourcedResource> Get(const std::string& key) = 0;
  // For logs: "manifests /etc/su" or "kubernetes https://... namespaces all".
  virtual std::string Describe() const = 0;
};

}  // namespace su
