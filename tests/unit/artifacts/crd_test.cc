// The SchemaUpgrade CRD: identity, structural schema, coverage of spec.h, enums, patterns, CEL
// rules, printer columns, and the validator itself (it must reject what the API server would).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "tests/unit/artifacts/artifact_files.h"
#include "tests/unit/artifacts/crd_helpers.h"
#include "tests/unit/artifacts/schema_check.h"

namespace su::testing {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "  " + s + "\n";
  return out;
}

YAML::Node SchemaAt(const std::string& dotted) {
  std::string error;
  YAML::Node n = SchemaAtJsonPath(RootSchema(), "." + dotted, &error);
  EXPECT_TRUE(n.IsDefined()) << error;
  return n;
}

std::vector<std::string> Strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& s : seq) out.push_back(s.as<std::string>());
  return out;
}

TEST(Crd, NamesGroupScopeAndVersion) {
  const YAML::Node crd = Crd();
  ASSERT_TRUE(crd.IsDefined()) << kCrdRel << " does not parse as one document";
  EXPECT_EQ(crd["apiVersion"].as<std::string>(), "apiextensions.k8s.io/v1");
  EXPECT_EQ(crd["kind"].as<std::string>(), "CustomResourceDefinition");
  EXPECT_EQ(crd["metadata"]["name"].as<std::string>(), "schemaupgrades.olympus.io");
  const YAML::Node spec = crd["spec"];
  EXPECT_EQ(spec["group"].as<std::string>(), "olympus.io");
  EXPECT_EQ(spec["scope"].as<std::string>(), "Namespaced");
  EXPECT_EQ(spec["names"]["kind"].as<std::string>(), "SchemaUpgrade");
  EXPECT_EQ(spec["names"]["plural"].as<std::string>(), "schemaupgrades");
  EXPECT_EQ(spec["names"]["singular"].as<std::string>(), "schemaupgrade");
  EXPECT_EQ(Strings(spec["names"]["shortNames"]), std::vector<std::string>{"su"});
  ASSERT_EQ(spec["versions"].size(), 1u);
  const YAML::Node v = spec["versions"][0];
  EXPECT_EQ(v["name"].as<std::string>(), "v1alpha1");
  EXPECT_TRUE(v["served"].as<bool>());
  EXPECT_TRUE(v["storage"].as<bool>());
  ASSERT_TRUE(v["subresources"]["status"].IsMap());
  EXPECT_EQ(v["subresources"]["status"].size(), 0u);
}

TEST(Crd, SchemaIsStructuralWithNoUnknownKeys) {
  ASSERT_TRUE(RootSchema().IsDefined());
  std::vector<std::string> errors;
  CheckStructural(RootSchema(), "openAPIV3Schema", &errors);
  EXPECT_TRUE(errors.empty()) << Join(errors);
}

TEST(Crd, StructuralCheckCatchesNonStructuralNodes) {
  // Each broken schema must be reported; otherwise the test above would prove nothing.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{type: object, properties: {a: {description: no type}}}", "no type"},
      {"{type: object, properties: {a: {type: object}}}", "object without properties"},
      {"{type: object, properties: {a: {type: array}}}", "array without an items schema"},
      {"{type: object, additionalProperties: true, properties: {a: {type: string}}}", "additionalProperties"},
      {"{type: object, required: [b], properties: {a: {type: string}}}", "'b' is not in properties"},
      {"{type: object, properties: {a: {type: string, pattern: '(['}}}", "pattern does not compile"},
      {"{type: object, properties: {a: {type: string, enum: [x, z], pattern: '^x$'}}}", "does not match"},
      {"{type: object, properties: {a: {type: array, x-kubernetes-list-type: map, x-kubernetes-list-map-keys: [k],"
       " items: {type: object, properties: {k: {type: string}}}}}}",
       "must be required"},
      {"{type: object, properties: {a: {type: string, x-kubernetes-validations: [{rule: 'self != \"\"'}]}}}",
       "without a message"},
  };
  for (const auto& [schema, expected] : cases) {
    std::vector<std::string> errors;
    CheckStructural(YAML::Load(schema), "s", &errors);
    EXPECT_NE(Join(errors).find(expected), std::string::npos) << schema << "\nwanted: " << expected << "\ngot:\n" << Join(errors);
  }
}

// The CRD's comments point readers at source files (e.g. the spec it mirrors): each one named
// must exist (it named reconcilers/manifest/spec.h long after the spec moved to api/spec.h).
TEST(Crd, CommentsNameFilesThatExist) {
  bool ok = false;
  const std::string text = ReadFileText(SourceDir() + "/" + kCrdRel, &ok);
  ASSERT_TRUE(ok);
  const std::regex path(R"(([A-Za-z0-9_.-]+/)+[A-Za-z0-9_-]+\.(h|cc|py|md|sh))");
  std::vector<std::string> missing;
  int named = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    size_t hash = line.find('#');
    if (hash == std::string::npos || line.find_first_not_of(' ') != hash) continue;  // comment lines only
    for (std::sregex_iterator it(line.begin(), line.end(), path), e; it != e; ++it) {
      ++named;
      if (!std::filesystem::exists(SourceDir() + "/" + it->str())) missing.push_back(it->str());
    }
  }
  EXPECT_GT(named, 0) << "the header comment names the spec it mirrors";
  EXPECT_TRUE(missing.empty()) << "the CRD's comments name files that do not exist:\n" << Join(missing);
}

// Every field api/spec.h supports, as YAML paths. The CRD must have exactly
// these: a field missing here is rejected by the API server's pruning, a field only here is one
// the controller ignores.
TEST(Crd, SpecFieldsMatchSpecH) {
  const std::set<std::string> expected = {
      "spec.service", "spec.targetVersion", "spec.image",
      "spec.workload.kind", "spec.workload.name", "spec.workload.container", "spec.workload.composeFile",
      "spec.workload.service",
      "spec.database.dsnFrom.env", "spec.database.dsnFrom.file", "spec.database.dsnFrom.secretKeyRef.name",
      "spec.database.dsnFrom.secretKeyRef.key",
      "spec.migrations.engine", "spec.migrations.command[]", "spec.migrations.statusCommand[]",
      "spec.migrations.path", "spec.migrations.schema", "spec.migrations.source",
      "spec.migrations.configMapRef.name", "spec.migrations.configMapRef.keys[]",
      "spec.policy.dryRun", "spec.policy.approval.required", "spec.policy.approval.planHash",
      "spec.policy.backup.enabled", "spec.policy.backup.dir", "spec.policy.backup.retention",
      "spec.policy.backup.pvc.claimName", "spec.policy.backup.pvc.subPath",
      "spec.policy.restoreBackup.allowDataLoss",
      "spec.policy.maintenanceWindow.start", "spec.policy.maintenanceWindow.end",
      "spec.policy.maintenanceWindow.timeZone", "spec.policy.maintenanceWindow.days[]",
      "spec.policy.lockTimeout", "spec.policy.statementTimeout", "spec.policy.lockWait",
      "spec.policy.retries.limit", "spec.policy.retries.backoff.initial", "spec.policy.retries.backoff.max",
      "spec.policy.onFailure", "spec.policy.acceptDrift[]", "spec.policy.failOnLintErrors",
      "spec.policy.allowDowngrade", "spec.policy.rehearse",
      "spec.policy.blockedSessionLimit", "spec.policy.lockWatchAfter", "spec.policy.verify.settle",
      "spec.policy.contract.after", "spec.policy.contract.approvalRequired", "spec.policy.contract.planHash",
      "spec.dependsOn[].name", "spec.upgradePath[].version", "spec.upgradePath[].migrationsUpTo",
      "spec.policy.stepThrough",
      "spec.policy.rehearseOn.dsnFrom.env", "spec.policy.rehearseOn.dsnFrom.file",
      "spec.policy.rehearseOn.dsnFrom.secretKeyRef.name", "spec.policy.rehearseOn.dsnFrom.secretKeyRef.key",
  };
  std::vector<std::string> leaves;
  LeafPaths(RootSchema()["properties"]["spec"], "spec", &leaves);
  const std::set<std::string> actual(leaves.begin(), leaves.end());
  for (const auto& p : expected) EXPECT_TRUE(actual.count(p)) << "CRD lacks " << p;
  for (const auto& p : actual) EXPECT_TRUE(expected.count(p)) << "CRD has " << p << ", which spec.h does not";
  EXPECT_EQ(Strings(RootSchema()["properties"]["spec"]["required"]),
            (std::vector<std::string>{"targetVersion", "database", "migrations"}));
}

TEST(Crd, StatusHasWhatTheControllerReports) {
  for (const char* p : {"status.observedGeneration", "status.phase", "status.currentVersion", "status.targetVersion",
                        "status.image", "status.previousImage", "status.plan.hash", "status.plan.pending[0]",
                        "status.plan.findings[0].rule", "status.plan.findings[0].severity",
                        "status.plan.drift[0].version", "status.applied[0].version", "status.applied[0].name",
                        "status.applied[0].durationMs", "status.applied[0].appliedAt", "status.attempts",
                        "status.lastError", "status.nextRetryAt", "status.backup.path", "status.backup.sizeBytes",
                        "status.backup.takenAt", "status.blockedSessions[0].pid", "status.backfill.rowsDone", "status.conditions[0].type"}) {
    SCOPED_TRACE(p);
    SchemaAt(p);
  }
  EXPECT_EQ(SchemaAt("status.applied[0].durationMs")["format"].as<std::string>(), "int64");
  EXPECT_EQ(SchemaAt("status.backup.sizeBytes")["format"].as<std::string>(), "int64");
  EXPECT_EQ(SchemaAt("status.conditions[0].lastTransitionTime")["format"].as<std::string>(), "date-time");
}

TEST(Crd, EnumsAreExactlyTheSupportedValues) {
  EXPECT_EQ(Strings(SchemaAt("spec.migrations.engine")["enum"]), (std::vector<std::string>{"ory", "drizzle", "sql"}));
  EXPECT_EQ(Strings(SchemaAt("spec.migrations.source")["enum"]),
            (std::vector<std::string>{"controller", "image", "configMap"}));
  EXPECT_EQ(Strings(SchemaAt("spec.policy.onFailure")["enum"]),
            (std::vector<std::string>{"halt", "rollbackImage", "restoreBackup", "runDown", "rollback"}));
  EXPECT_EQ(Strings(SchemaAt("spec.workload.kind")["enum"]),
            (std::vector<std::string>{"Deployment", "StatefulSet", "ComposeService"}));
  EXPECT_EQ(Strings(SchemaAt("status.phase")["enum"]),
            (std::vector<std::string>{"Pending", "Waiting", "Planning", "BackingUp", "Migrating", "Bumping",
                                      "Verifying", "Succeeded", "Failed", "Expanding", "Soaking", "Contracting"}));
  EXPECT_EQ(Strings(SchemaAt("status.conditions[0].status")["enum"]),
            (std::vector<std::string>{"True", "False", "Unknown"}));
}

TEST(Crd, DurationFieldsAcceptGoDurationsOnly) {
  for (const char* field : {"spec.policy.lockTimeout", "spec.policy.statementTimeout", "spec.policy.lockWait",
                            "spec.policy.retries.backoff.initial", "spec.policy.retries.backoff.max",
                            "spec.policy.blockedSessionLimit", "spec.policy.verify.settle"}) {
    SCOPED_TRACE(field);
    const YAML::Node schema = SchemaAt(field);
    for (const char* ok : {"500ms", "5s", "30m", "2h", "1h30m", "'0'"}) {
      std::vector<std::string> errors;
      ValidateValue(schema, YAML::Load(ok), field, &errors);
      EXPECT_TRUE(errors.empty()) << ok << "\n" << Join(errors);
    }
    // An unquoted 0 is a YAML integer, which the API server refuses for a string field.
    for (const char* bad : {"0", "5", "5 s", "1d", "\"\"", "-5s", "'5s '", "'00'"}) {
      std::vector<std::string> errors;
      ValidateValue(schema, YAML::Load(bad), field, &errors);
      EXPECT_FALSE(errors.empty()) << bad << " was accepted";
    }
  }
}

TEST(Crd, MaintenanceWindowTimesAreHHMM) {
  for (const char* field : {"spec.policy.maintenanceWindow.start", "spec.policy.maintenanceWindow.end"}) {
    const YAML::Node schema = SchemaAt(field);
    for (const char* ok : {"\"00:00\"", "\"02:00\"", "\"23:59\"", "'19:30'"}) {
      std::vector<std::string> errors;
      ValidateValue(schema, YAML::Load(ok), field, &errors);
      EXPECT_TRUE(errors.empty()) << ok << "\n" << Join(errors);
    }
    for (const char* bad : {"\"24:00\"", "\"2:00\"", "\"12:60\"", "\"1200\"", "\"12:00:00\""}) {
      std::vector<std::string> errors;
      ValidateValue(schema, YAML::Load(bad), field, &errors);
      EXPECT_FALSE(errors.empty()) << bad << " was accepted";
    }
  }
  EXPECT_EQ(Strings(SchemaAt("spec.policy.maintenanceWindow")["required"]), (std::vector<std::string>{"start", "end"}));
}

// The CRD's CEL rules, verbatim: crd_helpers.cc mirrors each one in C++ (CelEquivalentErrors),
// so a rule edited here without the mirror (or the reverse) fails this test.
TEST(Crd, CelRulesAreTheOnesMirroredInTests) {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"spec",
       "!has(self.policy) || !has(self.policy.onFailure) || self.policy.onFailure != 'runDown' || "
       "self.migrations.engine == 'sql'"},
      {"spec",
       "!has(self.policy) || !has(self.policy.onFailure) || self.policy.onFailure != 'rollbackImage' || "
       "has(self.workload)"},
      {"spec",
       "!has(self.policy) || !has(self.policy.onFailure) || self.policy.onFailure != 'rollback' || "
       "self.migrations.engine == 'sql' || (has(self.policy.backup) && has(self.policy.backup.enabled) && "
       "self.policy.backup.enabled)"},
      {"spec",
       "!has(self.policy) || !has(self.policy.stepThrough) || !self.policy.stepThrough || (has(self.upgradePath) && "
       "size(self.upgradePath) > 0)"},
      {"spec", "self.migrations.engine != 'ory' || has(self.workload) || has(self.image)"},
      {"spec.workload", "self.kind == 'ComposeService' || (!has(self.composeFile) && !has(self.service))"},
      {"spec.workload", "self.kind != 'ComposeService' || (has(self.composeFile) && !has(self.container))"},
      {"spec.database.dsnFrom",
       "(has(self.env) ? 1 : 0) + (has(self.file) ? 1 : 0) + (has(self.secretKeyRef) ? 1 : 0) == 1"},
      {"spec.migrations", "self.engine == 'ory' || has(self.path) || (has(self.source) && self.source == 'configMap')"},
      {"spec.migrations", "self.engine == 'ory' || (!has(self.command) && !has(self.statusCommand))"},
      {"spec.migrations",
       "self.engine != 'ory' || (!has(self.path) && !has(self.schema) && !has(self.source) && !has(self.configMapRef))"},
      {"spec.migrations", "(has(self.source) && self.source == 'configMap') == has(self.configMapRef)"},
      {"spec.migrations", "!has(self.source) || self.source != 'configMap' || !has(self.path)"},
      {"spec.policy",
       "!has(self.onFailure) || self.onFailure != 'restoreBackup' || (has(self.backup) && "
       "has(self.backup.enabled) && self.backup.enabled)"},
      {"spec.policy.maintenanceWindow", "self.start != self.end"},
      {"spec.policy.retries.backoff",
       "(has(self.initial) ? duration(self.initial) : duration('5s')) <= (has(self.max) ? duration(self.max) : "
       "duration('10m'))"},
      {"spec.policy.rehearseOn.dsnFrom",
       "(has(self.env) ? 1 : 0) + (has(self.file) ? 1 : 0) + (has(self.secretKeyRef) ? 1 : 0) == 1"},
  };
  std::vector<std::pair<std::string, std::string>> actual;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& s, const std::string& path) {
    if (s["x-kubernetes-validations"])
      for (const auto& r : s["x-kubernetes-validations"]) actual.emplace_back(path, r["rule"].as<std::string>());
    if (s["properties"])
      for (const auto& kv : s["properties"])
        walk(kv.second, path.empty() ? kv.first.as<std::string>() : path + "." + kv.first.as<std::string>());
    if (s["items"]) walk(s["items"], path + "[]");
  };
  walk(RootSchema(), "");
  EXPECT_EQ(actual, expected);
}

TEST(Crd, CelMirrorRejectsWhatTheRulesReject) {
  const YAML::Node good = YAML::Load(
      "{database: {dsnFrom: {env: DSN}}, migrations: {engine: sql, path: m}, policy: {onFailure: runDown,"
      " maintenanceWindow: {start: '22:00', end: '05:00'}, retries: {backoff: {initial: 1s, max: 1m}}}}");
  EXPECT_TRUE(CelEquivalentErrors(good).empty()) << CelEquivalentErrors(good)[0];
  for (const char* ok : {"{database: {dsnFrom: {env: A}}, migrations: {engine: drizzle, source: image, path: /app/d}}",
                         "{database: {dsnFrom: {env: A}}, migrations: {engine: sql, source: configMap, "
                         "configMapRef: {name: c}}}"}) {
    EXPECT_TRUE(CelEquivalentErrors(YAML::Load(ok)).empty()) << ok << "\n" << Join(CelEquivalentErrors(YAML::Load(ok)));
  }
  const std::string ok_ory = "database: {dsnFrom: {env: A}}, migrations: {engine: ory}, image: 'x:1'";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{database: {dsnFrom: {env: A, file: /b}}, migrations: {engine: ory}, image: 'x:1'}", "exactly one"},
      {"{database: {dsnFrom: {}}, migrations: {engine: ory}, image: 'x:1'}", "exactly one"},
      {"{" + ok_ory + ", policy: {rehearseOn: {dsnFrom: {env: A, file: /b}}}}", "rehearseOn.dsnFrom: exactly one"},
      {"{" + ok_ory + ", policy: {rehearseOn: {dsnFrom: {}}}}", "rehearseOn.dsnFrom: exactly one"},
      {"{database: {dsnFrom: {env: A}}, migrations: {engine: drizzle, path: m}, policy: {onFailure: runDown}}",
       "runDown"},
      {"{" + ok_ory + ", policy: {onFailure: rollbackImage}}", "rollbackImage needs a workload"},
      {"{database: {dsnFrom: {env: A}}, migrations: {engine: ory}}", "ory needs an image"},
      {"{database: {dsnFrom: {env: A}}, migrations: {engine: sql}}", "path required"},
      {"{database: {dsnFrom: {env: A}}, migrations: {engine: sql, path: m, command: [x]}}", "only for ory"},
      {"{database: {dsnFrom: {env: A}}, migrations: {engine: ory, schema: s}, image: 'x:1'}", "only for drizzle and sql"},
      {"{database: {dsnFrom: {env: A}}, migrations: {engine: ory, source: image}, image: 'x:1'}", "only for drizzle and sql"},
      {"{database: {dsnFrom: {env: A}}, migrations: {engine: sql, source: configMap}}", "go together"},
      {"{database: {dsnFrom: {env: A}}, migrations: {engine: sql, path: m, configMapRef: {name: c}}}", "go together"},
      {"{database: {dsnFrom: {env: A}}, migrations: {engine: sql, source: configMap, path: m, configMapRef: {name: c}}}",
       "path not used"},
      {"{" + ok_ory + ", workload: {kind: Deployment, name: a, composeFile: c.yml}}", "only for ComposeService"},
      {"{" + ok_ory + ", workload: {kind: ComposeService, name: a}}", "needs composeFile"},
      {"{" + ok_ory + ", workload: {kind: ComposeService, name: a, composeFile: c, container: x}}", "not container"},
      {"{" + ok_ory + ", policy: {onFailure: restoreBackup}}", "restoreBackup needs a backup"},
      {"{" + ok_ory + ", policy: {onFailure: rollback}}", "rollback needs a backup"},
      {"{" + ok_ory + ", policy: {stepThrough: true}}", "stepThrough needs spec.upgradePath"},
      {"{" + ok_ory + ", upgradePath: [], policy: {stepThrough: true}}", "stepThrough needs spec.upgradePath"},
      {"{" + ok_ory + ", policy: {maintenanceWindow: {start: '02:00', end: '02:00'}}}", "end equals start"},
      {"{" + ok_ory + ", policy: {retries: {backoff: {initial: 20m}}}}", "initial is longer than max"},
      {"{" + ok_ory + ", policy: {retries: {backoff: {initial: 1s, max: 500ms}}}}", "initial is longer than max"},
  };
  for (const auto& [spec, expected] : cases) {
    const auto errors = CelEquivalentErrors(YAML::Load(spec));
    EXPECT_NE(Join(errors).find(expected), std::string::npos) << spec << "\n" << Join(errors);
  }
}

TEST(Crd, PrinterColumnsPointIntoTheSchema) {
  const YAML::Node cols = Crd()["spec"]["versions"][0]["additionalPrinterColumns"];
  std::vector<std::string> names;
  for (const auto& c : cols) {
    names.push_back(c["name"].as<std::string>());
    const std::string path = c["jsonPath"].as<std::string>();
    std::string error;
    const YAML::Node target = SchemaAtJsonPath(RootSchema(), path, &error);
    ASSERT_TRUE(target.IsDefined()) << c["name"].as<std::string>() << ": " << error;
    const std::string col_type = c["type"].as<std::string>();
    if (col_type == "date") {
      EXPECT_EQ(target["format"].as<std::string>(), "date-time") << path;
    } else {
      EXPECT_EQ(target["type"].as<std::string>(), col_type) << path;
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Service", "Target", "Current", "Phase", "Ready", "Age"}));
  EXPECT_EQ(cols[4]["jsonPath"].as<std::string>(), ".status.conditions[?(@.type==\"Ready\")].status");

  std::string error;
  EXPECT_FALSE(SchemaAtJsonPath(RootSchema(), ".status.version", &error).IsDefined());
  EXPECT_FALSE(SchemaAtJsonPath(RootSchema(), ".status.conditions[?(@.kind==\"Ready\")].status", &error).IsDefined());
  EXPECT_NE(error.find("kind"), std::string::npos) << error;
}

TEST(Crd, ConditionsFollowMetav1Condition) {
  const YAML::Node conditions = SchemaAt("status.conditions");
  EXPECT_EQ(conditions["x-kubernetes-list-type"].as<std::string>(), "map");
  EXPECT_EQ(Strings(conditions["x-kubernetes-list-map-keys"]), std::vector<std::string>{"type"});
  std::vector<std::string> required = Strings(conditions["items"]["required"]);
  std::sort(required.begin(), required.end());
  EXPECT_EQ(required, (std::vector<std::string>{"lastTransitionTime", "message", "reason", "status", "type"}));

  const YAML::Node item = conditions["items"];
  auto check = [&](const std::string& yaml) {
    std::vector<std::string> errors;
    ValidateValue(item, YAML::Load(yaml), "condition", &errors);
    return errors;
  };
  EXPECT_TRUE(check("{type: Ready, status: 'True', reason: Succeeded, message: done, observedGeneration: 3,"
                    " lastTransitionTime: '2024-05-01T02:00:00Z'}").empty());
  // An unquoted True is a YAML boolean, which the API server rejects for a string field.
  EXPECT_NE(Join(check("{type: Ready, status: True, reason: Succeeded, message: m, lastTransitionTime: t}"))
                .find("is not a string"),
            std::string::npos);
  EXPECT_NE(Join(check("{type: Ready, status: 'True', reason: 'not a reason', message: m, lastTransitionTime: t}"))
                .find("does not match"),
            std::string::npos);
  EXPECT_NE(Join(check("{type: Ready, status: 'True', message: m, lastTransitionTime: t}")).find("'reason'"),
            std::string::npos);
}

TEST(ScalarResolution, FollowsYaml11LikeTheApiServer) {
  EXPECT_EQ(ResolveScalar(YAML::Load("10")), ScalarKind::kInt);
  EXPECT_EQ(ResolveScalar(YAML::Load("'10'")), ScalarKind::kString);
  EXPECT_EQ(ResolveScalar(YAML::Load("on")), ScalarKind::kBool);
  EXPECT_EQ(ResolveScalar(YAML::Load("true")), ScalarKind::kBool);
  EXPECT_EQ(ResolveScalar(YAML::Load("1.5")), ScalarKind::kFloat);
  EXPECT_EQ(ResolveScalar(YAML::Load("5s")), ScalarKind::kString);
  EXPECT_EQ(ResolveScalar(YAML::Load("v1.2.0")), ScalarKind::kString);
  EXPECT_EQ(ResolveScalar(YAML::Load("~")), ScalarKind::kNull);
}

}  // namespace
}  // namespace su::testing
