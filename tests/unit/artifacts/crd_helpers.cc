// CRD access, canonical YAML rendering and the CRD's CEL rules in C++, for the artifact tests.
#include "tests/unit/artifacts/crd_helpers.h"

#include <algorithm>
#include <map>

#include "tests/unit/artifacts/artifact_files.h"

namespace su::testing {

YAML::Node Crd() {
  static const YAML::Node crd = [] {
    std::string error;
    auto docs = LoadDocuments(SourceDir() + "/" + kCrdRel, &error);
    return docs.size() == 1 ? docs[0] : YAML::Node(YAML::NodeType::Undefined);
  }();
  return crd;
}

YAML::Node RootSchema() {
  const YAML::Node crd = Crd();
  if (!crd) return YAML::Node(YAML::NodeType::Undefined);
  return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

std::string Canonical(const YAML::Node& node) {
  if (!node || node.IsNull()) return "null";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  std::string out;
  if (node.IsSequence()) {
    out = "[";
    for (const auto& item : node) out += Canonical(item) + ",";
    return out + "]";
  }
  std::map<std::string, std::string> sorted;
  for (const auto& kv : node) sorted[kv.first.as<std::string>()] = Canonical(kv.second);
  out = "{";
  for (const auto& [k, v] : sorted) out += k + ":" + v + ",";
  return out + "}";
}

namespace {
// spec.at(a).at(b)...: undefined (never a yaml-cpp "invalid node" throw) when a step is missing.
YAML::Node At(const YAML::Node& node, std::initializer_list<const char*> keys) {
  YAML::Node cur = YAML::Clone(node);
  for (const char* k : keys) {
    if (!cur.IsMap() || !cur[k]) return YAML::Node(YAML::NodeType::Undefined);
    cur = YAML::Clone(cur[k]);
  }
  return cur;
}
}  // namespace

std::vector<std::string> CelEquivalentErrors(const YAML::Node& spec) {
  std::vector<std::string> errors;
  const YAML::Node dsn = At(spec, {"database", "dsnFrom"});
  if (dsn.IsDefined()) {
    const int sources = (dsn["env"] ? 1 : 0) + (dsn["file"] ? 1 : 0) + (dsn["secretKeyRef"] ? 1 : 0);
    if (sources != 1) errors.push_back("dsnFrom: exactly one of env, file, secretKeyRef");
  }
  const YAML::Node engine_node = At(spec, {"migrations", "engine"});
  const std::string engine = engine_node.IsDefined() ? engine_node.as<std::string>() : "";
  const YAML::Node on_failure = At(spec, {"policy", "onFailure"});
  if (on_failure.IsDefined() && on_failure.as<std::string>() == "runDown" && engine != "sql")
    errors.push_back("onFailure runDown needs engine sql");
  if (engine != "ory" && !At(spec, {"migrations", "path"}).IsDefined())
    errors.push_back("migrations.path required for " + engine);
  if (engine != "ory" &&
      (At(spec, {"migrations", "command"}).IsDefined() || At(spec, {"migrations", "statusCommand"}).IsDefined()))
    errors.push_back("command/statusCommand only for ory");
  const YAML::Node kind = At(spec, {"workload", "kind"});
  if (kind.IsDefined() && kind.as<std::string>() != "ComposeService" &&
      (At(spec, {"workload", "composeFile"}).IsDefined() || At(spec, {"workload", "service"}).IsDefined()))
    errors.push_back("workload composeFile/service only for ComposeService");
  return errors;
}

void LeafPaths(const YAML::Node& schema, const std::string& prefix, std::vector<std::string>* out) {
  const std::string type = schema["type"] ? schema["type"].as<std::string>() : "";
  if (type == "object" && schema["properties"]) {
    for (const auto& kv : schema["properties"])
      LeafPaths(kv.second, prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>(), out);
  } else if (type == "array") {
    LeafPaths(schema["items"], prefix + "[]", out);
  } else {
    out->push_back(prefix);
  }
}

}  // namespace su::testing
