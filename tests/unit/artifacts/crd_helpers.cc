// CRD access, canonical YAML rendering and the CRD's CEL rules in C++, for the artifact tests.
#include "tests/unit/artifacts/crd_helpers.h"

#include <algorithm>
#include <map>

#include "reconcilers/base/duration.h"
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
  const YAML::Node rehearse_dsn = At(spec, {"policy", "rehearseOn", "dsnFrom"});
  if (rehearse_dsn.IsDefined()) {
    const int sources = (rehearse_dsn["env"] ? 1 : 0) + (rehearse_dsn["file"] ? 1 : 0) + (rehearse_dsn["secretKeyRef"] ? 1 : 0);
    if (sources != 1) errors.push_back("rehearseOn.dsnFrom: exactly one of env, file, secretKeyRef");
  }
  const YAML::Node engine_node = At(spec, {"migrations", "engine"});
  const std::string engine = engine_node.IsDefined() ? engine_node.as<std::string>() : "";
  const YAML::Node on_failure_node = At(spec, {"policy", "onFailure"});
  const std::string on_failure = on_failure_node.IsDefined() ? on_failure_node.as<std::string>() : "";
  if (on_failure == "runDown" && engine != "sql") errors.push_back("onFailure runDown needs engine sql");
  if (on_failure == "rollbackImage" && !At(spec, {"workload"}).IsDefined())
    errors.push_back("onFailure rollbackImage needs a workload");
  const YAML::Node backup_enabled = At(spec, {"policy", "backup", "enabled"});
  if (on_failure == "restoreBackup" && !(backup_enabled.IsDefined() && backup_enabled.as<bool>()))
    errors.push_back("onFailure restoreBackup needs a backup");
  if (on_failure == "rollback" && engine != "sql" && !(backup_enabled.IsDefined() && backup_enabled.as<bool>()))
    errors.push_back("onFailure rollback needs a backup for engines other than sql");
  const YAML::Node step_through = At(spec, {"policy", "stepThrough"});
  const YAML::Node upgrade_path = At(spec, {"upgradePath"});
  if (step_through.IsDefined() && step_through.as<bool>() && !(upgrade_path.IsDefined() && upgrade_path.size() > 0))
    errors.push_back("stepThrough needs spec.upgradePath");
  if (engine == "ory" && !At(spec, {"workload"}).IsDefined() && !At(spec, {"image"}).IsDefined())
    errors.push_back("engine ory needs an image (no workload to derive it from)");
  const YAML::Node source_node = At(spec, {"migrations", "source"});
  const bool config_map = source_node.IsDefined() && source_node.as<std::string>() == "configMap";
  const bool has_path = At(spec, {"migrations", "path"}).IsDefined();
  const bool has_ref = At(spec, {"migrations", "configMapRef"}).IsDefined();
  if (engine != "ory" && !has_path && !config_map)
    errors.push_back("migrations.path required for " + engine);
  if (config_map != has_ref) errors.push_back("source configMap and configMapRef go together");
  if (config_map && has_path) errors.push_back("path not used with source configMap");
  if (engine != "ory" &&
      (At(spec, {"migrations", "command"}).IsDefined() || At(spec, {"migrations", "statusCommand"}).IsDefined()))
    errors.push_back("command/statusCommand only for ory");
  if (engine == "ory" && (has_path || At(spec, {"migrations", "schema"}).IsDefined() || source_node.IsDefined() || has_ref))
    errors.push_back("path/schema/source/configMapRef only for drizzle and sql");
  const YAML::Node kind = At(spec, {"workload", "kind"});
  if (kind.IsDefined()) {
    const bool compose = kind.as<std::string>() == "ComposeService";
    const bool has_file = At(spec, {"workload", "composeFile"}).IsDefined();
    if (!compose && (has_file || At(spec, {"workload", "service"}).IsDefined()))
      errors.push_back("workload composeFile/service only for ComposeService");
    if (compose && (!has_file || At(spec, {"workload", "container"}).IsDefined()))
      errors.push_back("ComposeService needs composeFile and takes service, not container");
  }
  const YAML::Node start = At(spec, {"policy", "maintenanceWindow", "start"});
  const YAML::Node end = At(spec, {"policy", "maintenanceWindow", "end"});
  if (start.IsDefined() && end.IsDefined() && start.Scalar() == end.Scalar())
    errors.push_back("maintenanceWindow end equals start");
  // Defaults 5s and 10m, as in the CEL rule (and spec.h's RetryPolicy).
  const auto duration_or = [&](std::initializer_list<const char*> keys, const char* fallback) {
    const YAML::Node n = At(spec, keys);
    auto d = ParseDuration(n.IsDefined() ? n.Scalar() : std::string(fallback));
    return d.ok() ? *d : std::chrono::milliseconds(-1);
  };
  if (duration_or({"policy", "retries", "backoff", "initial"}, "5s") >
      duration_or({"policy", "retries", "backoff", "max"}, "10m"))
    errors.push_back("backoff initial is longer than max");
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
