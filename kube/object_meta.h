// ObjectMeta: the metadata fields every caller needs, pulled out of an object's JSON so that modules
// without a JSON library can key, compare and log objects.
#pragma once

#include <cstdint>
#include <string>

#include "reconcilers/base/result.h"

namespace su::kube {

struct ObjectMeta {
  std::string ns;  // empty for cluster-scoped objects
  std::string name;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  bool deleting = false;  // metadata.deletionTimestamp is set
  // "ns/name", or "name" when cluster-scoped: client-go's MetaNamespaceKeyFunc.
  std::string Key() const { return ns.empty() ? name : ns + "/" + name; }
};

// kInvalidArgument when json is not an object or has no metadata.name.
Result<ObjectMeta> ParseObjectMeta(const std::string& json);
// ParseObjectMeta, and *json loses what no reader of a cached object uses but every object carries:
// metadata.managedFields and the kubectl.kubernetes.io/last-applied-configuration annotation (as
// controller-runtime's TransformStripManagedFields; together often more than half an object's
// bytes). *json is rewritten only when it held either; unchanged on error.
Result<ObjectMeta> ParseObjectMetaTrimmed(std::string* json);
// metadata.resourceVersion alone (a watch BOOKMARK carries nothing else); "" when absent or not JSON.
std::string ParseResourceVersion(const std::string& json);

}  // namespace su::kube
