// The SchemaUpgrades' status as the Kubernetes API serves it, for `kubectl schema-upgrade status
// --kubernetes`: lists schemaupgrades.olympus.io (one namespace or all) through kube/ and reads
// each object's .status (the CRD's status schema, the same fields as the state folder's JSON).
// An object without status yet is reported as Pending with a message saying so.
#pragma once

#include <string>
#include <vector>

#include "kube/config.h"
#include "reconcilers/base/result.h"
#include "api/status.h"

namespace su {

// ns empty: all namespaces. Errors name the cluster call that failed (kUnavailable for a server
// that cannot be reached, kInvalidArgument for a kubeconfig that does not load).
Result<std::vector<ResourceStatus>> ListKubeStatuses(const kube::ConfigOptions& config, const std::string& ns);

}  // namespace su
