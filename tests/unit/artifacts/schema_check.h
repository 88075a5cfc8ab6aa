// A small OpenAPI v3 checker for the CRD tests: structural-schema rules (as the API server
// enforces them, plus "no unknown keys"), and validation of a YAML value against a schema node
// (type, required, properties, items, enum, pattern, length, minimum). CEL rules are not
// evaluated here; the tests check their semantics directly.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace su::testing {

// How a YAML scalar reaches the API server once converted to JSON (YAML 1.1 as sigs.k8s.io/yaml
// resolves plain scalars: `on`/`yes` are booleans, `10` an integer; quoted scalars are strings).
enum class ScalarKind { kNull, kBool, kInt, kFloat, kString };
ScalarKind ResolveScalar(const YAML::Node& node);

// Appends "path: problem" for every violation of the structural rules under schema.
// `path` names the node in messages (e.g. "openAPIV3Schema").
void CheckStructural(const YAML::Node& schema, const std::string& path, std::vector<std::string>* errors);

// Appends "path: problem" for every way value violates schema. Unknown fields are errors
// (the API server would silently prune them). A schema of type object without properties
// (metadata) accepts any map.
void ValidateValue(const YAML::Node& schema, const YAML::Node& value, const std::string& path,
                   std::vector<std::string>* errors);

// The schema node a printer-column JSONPath (".status.conditions[?(@.type==\"Ready\")].status")
// selects, or an undefined node when the path leaves the schema. Paths under .metadata resolve
// to a string/date leaf for the standard ObjectMeta fields.
YAML::Node SchemaAtJsonPath(const YAML::Node& root_schema, const std::string& json_path, std::string* error);

}  // namespace su::testing
