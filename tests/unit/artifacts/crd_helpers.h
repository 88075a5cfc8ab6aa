// Shared by the artifact tests: the CRD's schema, a canonical form for comparing YAML nodes
// regardless of style, and the CEL rules of the CRD re-implemented in C++ (the tests cannot
// run a CEL interpreter, so they check the same semantics on examples and broken inputs).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace su::testing {

inline constexpr const char* kCrdRel = "crds/olympus.io_schemaupgrades.yaml";

// The CRD document, loaded once (undefined when it does not parse).
YAML::Node Crd();
// versions[0].schema.openAPIV3Schema of the CRD.
YAML::Node RootSchema();

// Style-free rendering: maps with sorted keys, flow/block and quoting ignored.
std::string Canonical(const YAML::Node& node);

// Violations of the CRD's x-kubernetes-validations rules by a SchemaUpgrade spec.
std::vector<std::string> CelEquivalentErrors(const YAML::Node& spec);

// Every leaf path under a schema node ("spec.policy.retries.backoff.initial"); arrays add "[]".
void LeafPaths(const YAML::Node& schema, const std::string& prefix, std::vector<std::string>* out);

}  // namespace su::testing
