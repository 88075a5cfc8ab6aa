// spec.dependsOn: which SchemaUpgrades this one waits for, whether each is Ready at its current
// target, and whether the dependsOn edges close a cycle. Pure logic over two seams: ResourceLookup
// (the desired state of the resources the controller sees: the manifests folder, the informer's
// cache, or the manifests given to `apply`/`plan`) and StatusStore (their status: state files or
// the status subresource). Tests use fakes of both.
//
// "Ready at its current target" means: the dependency's stored status belongs to its current spec
// (status.specHash is the spec's token), says the same targetVersion, and has Ready=True with
// observedGeneration equal to the spec's generation. A dependency Ready at an older target, still
// working, failed, or with its readiness Unknown, is not satisfied. A dependency that does not
// exist (or fails validation) is not satisfied either: the dependent waits, it does not fail.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/spec.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "reconcilers/schemaupgrade/status_store.h"

namespace su {

class ResourceLookup {
 public:
  virtual ~ResourceLookup() = default;
  // The valid desired state of key ("namespace/name"); nullopt when there is no such resource, or
  // it fails validation. Thread-safe.
  virtual std::optional<SchemaUpgrade> Find(const std::string& key) = 0;
};

// A fixed set of resources (the manifests `apply` and `plan` were given; tests).
class StaticResourceLookup : public ResourceLookup {
 public:
  explicit StaticResourceLookup(std::vector<SchemaUpgrade> resources) : resources_(std::move(resources)) {}
  std::optional<SchemaUpgrade> Find(const std::string& key) override;

 private:
  std::vector<SchemaUpgrade> resources_;
};

// The key of dependency d of su: dependencies live in su's namespace.
std::string DependencyKey(const SchemaUpgrade& su, const DependencyRef& d);

// The dependsOn cycle through su as keys, first and last being su's key ("ns/a", "ns/b", "ns/a");
// empty when su is on no cycle. su itself is taken as given (its latest spec), the others from
// lookup (a resource lookup does not know: no edges). A cycle su merely leads into is not su's.
std::vector<std::string> FindDependencyCycle(const SchemaUpgrade& su, ResourceLookup* lookup);

// The token a status written for this spec carries (status.specHash): the spec hash and the
// olympus.io/retry annotation.
std::string StatusSpecToken(const SchemaUpgrade& su);

// "ns/a -> ns/b -> ns/a".
std::string FormatCycle(const std::vector<std::string>& cycle);

// One DependencyState per spec.dependsOn entry, in order. lookup null: none exists.
std::vector<DependencyState> EvaluateDependencies(const SchemaUpgrade& su, ResourceLookup* lookup, StatusStore* store);

// Whether dep's stored status says it is Ready at dep's current target (see the header comment);
// *detail says where it is, for messages.
bool ReadyAtTarget(const SchemaUpgrade& dep, const std::optional<ResourceStatus>& status, std::string* detail);

// The resources ordered so that each comes after what it depends on (among them); otherwise in the
// given order. Cycles and missing dependencies do not stop it (they keep the given order): the
// reconciler reports those.
std::vector<SchemaUpgrade> OrderByDependencies(std::vector<SchemaUpgrade> resources);

}  // namespace su
