// manifests/: examples validate against the CRD (schema + CEL semantics), RBAC is least
// privilege, the controller Deployment is hardened, kustomization lists every file; the CRD and
// the controller's manifest parser accept each other's examples.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "reconcilers/manifest/manifest.h"
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

std::string Manifest(const std::string& rel) { return SourceDir() + "/manifests/" + rel; }

std::set<std::string> StringSet(const YAML::Node& seq) {
  std::set<std::string> out;
  for (const auto& s : seq) out.insert(s.as<std::string>());
  return out;
}

YAML::Node Example(const std::string& file) {
  std::string error;
  auto docs = LoadDocuments(Manifest("examples/" + file), &error);
  EXPECT_EQ(docs.size(), 1u) << error;
  return docs.empty() ? YAML::Node(YAML::NodeType::Undefined) : docs[0];
}

TEST(Examples, EveryExampleValidatesAgainstTheCrd) {
  const auto files = YamlFilesUnder("manifests/examples");
  ASSERT_GE(files.size(), 3u);
  for (const auto& file : files) {
    std::string error;
    const auto docs = LoadDocuments(file, &error);
    ASSERT_TRUE(error.empty()) << error;
    for (const auto& doc : docs) {
      SCOPED_TRACE(file);
      EXPECT_EQ(doc["apiVersion"].as<std::string>(), "olympus.io/v1alpha1");
      EXPECT_EQ(doc["kind"].as<std::string>(), "SchemaUpgrade");
      ASSERT_TRUE(doc["metadata"]["name"] && doc["metadata"]["namespace"]);
      std::vector<std::string> errors;
      ValidateValue(RootSchema(), doc, doc["metadata"]["name"].as<std::string>(), &errors);
      EXPECT_TRUE(errors.empty()) << Join(errors);
      const auto cel = CelEquivalentErrors(doc["spec"]);
      EXPECT_TRUE(cel.empty()) << Join(cel);
    }
  }
}

TEST(Examples, CiamServicesUseSecretsAndDeployments) {
  const std::map<std::string, std::string> engine = {{"kratos", "ory"}, {"hydra", "ory"}, {"athena", "drizzle"}};
  for (const auto& [service, eng] : engine) {
    SCOPED_TRACE(service);
    const YAML::Node su = Example(service + ".yaml");
    ASSERT_TRUE(su.IsDefined());
    EXPECT_EQ(su["metadata"]["namespace"].as<std::string>(), "ciam");
    EXPECT_EQ(su["spec"]["service"].as<std::string>(), service);
    EXPECT_EQ(su["spec"]["workload"]["kind"].as<std::string>(), "Deployment");
    EXPECT_EQ(su["spec"]["workload"]["name"].as<std::string>(), "ciam-" + service);
    EXPECT_TRUE(su["spec"]["database"]["dsnFrom"]["secretKeyRef"]["name"].IsDefined());
    EXPECT_EQ(su["spec"]["migrations"]["engine"].as<std::string>(), eng);
  }
}

TEST(Examples, ValidatorRejectsBrokenVariants) {
  const YAML::Node base = Example("kratos.yaml");
  ASSERT_TRUE(base.IsDefined());
  struct Case {
    std::string what;
    std::function<void(YAML::Node)> mutate;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"unknown engine", [](YAML::Node n) { n["spec"]["migrations"]["engine"] = "mysql"; }, "not one of the allowed"},
      {"no targetVersion", [](YAML::Node n) { n["spec"].remove("targetVersion"); }, "'targetVersion'"},
      {"spelled-out duration", [](YAML::Node n) { n["spec"]["policy"]["lockTimeout"] = "5 seconds"; }, "does not match"},
      {"hour 24", [](YAML::Node n) { n["spec"]["policy"]["maintenanceWindow"]["start"] = "24:00"; }, "does not match"},
      {"misspelled field", [](YAML::Node n) { n["spec"]["policy"]["dryrun"] = true; }, "unknown field 'dryrun'"},
      {"limit as text", [](YAML::Node n) { n["spec"]["policy"]["retries"]["limit"] = YAML::Load("'10'"); }, "is not a integer"},
      {"dryRun as text", [](YAML::Node n) { n["spec"]["policy"]["dryRun"] = YAML::Load("'yes'"); }, "is not a boolean"},
      {"bad weekday", [](YAML::Node n) { n["spec"]["policy"]["maintenanceWindow"]["days"][0] = "Monday"; }, "not one of"},
      {"secret without key", [](YAML::Node n) { n["spec"]["database"]["dsnFrom"]["secretKeyRef"].remove("key"); }, "'key'"},
      {"bad phase", [](YAML::Node n) { n["status"]["phase"] = "Done"; }, "not one of"},
  };
  for (const auto& c : cases) {
    YAML::Node copy = YAML::Clone(base);
    c.mutate(copy);
    std::vector<std::string> errors;
    ValidateValue(RootSchema(), copy, "kratos", &errors);
    EXPECT_NE(Join(errors).find(c.expected), std::string::npos) << c.what << ":\n" << Join(errors);
  }
}

TEST(Rbac, ClusterRoleIsLeastPrivilege) {
  const YAML::Node role = FindDocument(Manifest("rbac.yaml"), "ClusterRole", "schema-upgrade");
  ASSERT_TRUE(role.IsDefined());
  // resource (group/resource) -> verbs, exactly.
  std::map<std::string, std::set<std::string>> grants;
  for (const auto& rule : role["rules"]) {
    EXPECT_FALSE(rule["resourceNames"].IsDefined() || rule["nonResourceURLs"].IsDefined());
    for (const auto& g : rule["apiGroups"])
      for (const auto& r : rule["resources"])
        for (const auto& v : rule["verbs"]) {
          EXPECT_NE(g.as<std::string>(), "*");
          EXPECT_NE(r.as<std::string>(), "*");
          EXPECT_NE(v.as<std::string>(), "*");
          grants[g.as<std::string>() + "/" + r.as<std::string>()].insert(v.as<std::string>());
        }
  }
  // Exactly what the code calls (tests/integration/deploy/test_rbac_calls.py reads the calls from
  // the sources; this pins the reviewed result).
  const std::map<std::string, std::set<std::string>> expected = {
      {"olympus.io/schemaupgrades", {"get", "list", "watch"}},
      {"olympus.io/schemaupgrades/status", {"patch"}},
      {"events.k8s.io/events", {"create", "patch"}},
      // The workload bump (reconcilers/runtimes/kubernetes/): read, patch the image (and the hold).
      {"apps/deployments", {"get", "patch"}},
      {"apps/statefulsets", {"get", "patch"}},
      // A failed rollout names its pods and quotes their logs.
      {"/pods", {"list"}},
      {"/pods/log", {"get"}},
      // dsnFrom.secretKeyRef (controller/kubernetes/kube_secret_resolver.cc); the ory rehearsal's
      // copy DSN Secret, made and deleted (controller/kubernetes/kube_secret_writer.cc).
      {"/secrets", {"create", "delete", "get"}},
      // spec.migrations.source configMap (reconcilers/runtimes/kubernetes/folder_reader.cc).
      {"/configmaps", {"get"}},
      // Migration Jobs (reconcilers/runtimes/kubernetes/job_runtime.cc): adopted by name, a finished
      // one deleted before a retry recreates it.
      {"batch/jobs", {"create", "delete", "get"}},
      // Backups on Kubernetes (controller/cli/kube_backup.cc): the claim read before its Job.
      {"/persistentvolumeclaims", {"get"}},
  };
  EXPECT_EQ(grants, expected);
}

TEST(Rbac, LeasesOnlyInTheControllerNamespaceAndBindingsNameTheServiceAccount) {
  const std::string file = Manifest("rbac.yaml");
  const YAML::Node sa = FindDocument(file, "ServiceAccount", "schema-upgrade");
  ASSERT_TRUE(sa.IsDefined());
  const std::string ns = sa["metadata"]["namespace"].as<std::string>();
  const YAML::Node lease_role = FindDocument(file, "Role");
  ASSERT_TRUE(lease_role.IsDefined());
  EXPECT_EQ(lease_role["metadata"]["namespace"].as<std::string>(), ns);
  ASSERT_EQ(lease_role["rules"].size(), 1u);
  EXPECT_EQ(StringSet(lease_role["rules"][0]["resources"]), std::set<std::string>{"leases"});
  EXPECT_EQ(StringSet(lease_role["rules"][0]["verbs"]), (std::set<std::string>{"get", "create", "update"}));
  for (const char* kind : {"ClusterRoleBinding", "RoleBinding"}) {
    const YAML::Node b = FindDocument(file, kind);
    ASSERT_TRUE(b.IsDefined()) << kind;
    EXPECT_EQ(b["subjects"][0]["name"].as<std::string>(), "schema-upgrade") << kind;
    EXPECT_EQ(b["subjects"][0]["namespace"].as<std::string>(), ns) << kind;
    const YAML::Node role = FindDocument(file, b["roleRef"]["kind"].as<std::string>(), b["roleRef"]["name"].as<std::string>());
    EXPECT_TRUE(role.IsDefined()) << kind << " refers to a missing role";
  }
  bool ok = false;
  const std::string text = ReadFileText(file, &ok);
  EXPECT_NE(text.find("with a Role and RoleBinding in each of them instead"), std::string::npos)
      << "the note on watching named namespaces is missing";
}

TEST(ControllerDeployment, RunsNonRootReadOnlyWithoutCapabilities) {
  const YAML::Node dep = FindDocument(Manifest("deployment.yaml"), "Deployment");
  ASSERT_TRUE(dep.IsDefined());
  const YAML::Node pod = dep["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"].as<std::string>(), "schema-upgrade");
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_EQ(pod["securityContext"]["runAsUser"].as<int>(), 65532);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
  ASSERT_EQ(pod["containers"].size(), 1u);
  const YAML::Node c = pod["containers"][0];
  const YAML::Node sc = c["securityContext"];
  EXPECT_TRUE(sc["runAsNonRoot"].as<bool>());
  EXPECT_EQ(sc["runAsUser"].as<int>(), 65532);
  EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>());
  EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>());
  EXPECT_EQ(Canonical(sc["capabilities"]["drop"]), "['ALL',]");
  EXPECT_FALSE(sc["capabilities"]["add"].IsDefined());
  EXPECT_EQ(sc["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
  EXPECT_EQ(Canonical(c["args"]), "['controller','--kubernetes','--leader-elect','--metrics-addr=:8080','--health-addr=:8081',"
                                  "'--state-dir=/var/lib/schema-upgrade',]");
  EXPECT_TRUE(c["resources"]["requests"].IsMap());
  EXPECT_TRUE(c["resources"]["limits"]["memory"].IsDefined());

  std::map<std::string, int> ports;
  for (const auto& p : c["ports"]) ports[p["name"].as<std::string>()] = p["containerPort"].as<int>();
  EXPECT_EQ(ports, (std::map<std::string, int>{{"metrics", 8080}, {"health", 8081}}));
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(ports[c["livenessProbe"]["httpGet"]["port"].as<std::string>()], 8081);
  EXPECT_EQ(ports[c["readinessProbe"]["httpGet"]["port"].as<std::string>()], 8081);
  // A read-only root needs somewhere to write temp files and the state dir (status, backups).
  std::string state_dir;
  for (const auto& a : c["args"])
    if (a.as<std::string>().rfind("--state-dir=", 0) == 0) state_dir = a.as<std::string>().substr(12);
  bool tmp = false, state = false;
  for (const auto& m : c["volumeMounts"]) {
    tmp = tmp || m["mountPath"].as<std::string>() == "/tmp";
    state = state || (!state_dir.empty() && m["mountPath"].as<std::string>() == state_dir);
  }
  EXPECT_TRUE(tmp);
  EXPECT_TRUE(state) << "--state-dir must be given and be a mounted volume";
}

TEST(Kustomization, ListsEveryManifestAndTheCrd) {
  std::string error;
  // `Kustomization`, not kustomization.yaml: `kubectl apply -f manifests/` must not send it.
  EXPECT_FALSE(std::filesystem::exists(Manifest("kustomization.yaml")));
  const auto docs = LoadDocuments(Manifest("Kustomization"), &error);
  ASSERT_EQ(docs.size(), 1u) << error;
  const std::set<std::string> resources = StringSet(docs[0]["resources"]);
  EXPECT_EQ(resources, (std::set<std::string>{"../crds", "00-namespace.yaml", "rbac.yaml", "deployment.yaml"}));
  for (const auto& r : resources) EXPECT_TRUE(std::filesystem::exists(Manifest(r))) << r;
  const auto crd_docs = LoadDocuments(SourceDir() + "/crds/Kustomization", &error);
  ASSERT_EQ(crd_docs.size(), 1u) << error;
  EXPECT_EQ(StringSet(crd_docs[0]["resources"]), std::set<std::string>{"olympus.io_schemaupgrades.yaml"});
  // Everything in manifests/ except the examples is installed by the kustomization.
  for (const auto& file : YamlFilesUnder("manifests")) {
    const std::string rel = std::filesystem::relative(file, SourceDir() + "/manifests").string();
    if (rel.rfind("examples/", 0) == 0) continue;
    EXPECT_TRUE(resources.count(rel)) << rel << " is not in manifests/Kustomization";
  }
}

}  // namespace
}  // namespace su::testing

namespace su::testing {
namespace {

// The CLI's sample manifests (examples/manifests, compose and env/file DSNs) must be valid
// Kubernetes resources too: the CRD may not be narrower than the parser's examples.
TEST(Examples, CliSampleManifestsValidateAgainstTheCrd) {
  const auto files = YamlFilesUnder("examples/manifests");
  if (files.empty()) GTEST_SKIP() << "no examples/manifests in this checkout";
  for (const auto& file : files) {
    std::string error;
    const auto docs = LoadDocuments(file, &error);
    ASSERT_TRUE(error.empty()) << error;
    for (const auto& doc : docs) {
      if (!doc["kind"] || doc["kind"].as<std::string>() != "SchemaUpgrade") continue;
      SCOPED_TRACE(file + " " + doc["metadata"]["name"].as<std::string>());
      std::vector<std::string> errors;
      ValidateValue(RootSchema(), doc, "doc", &errors);
      EXPECT_TRUE(errors.empty()) << Join(errors);
      const auto cel = CelEquivalentErrors(doc["spec"]);
      EXPECT_TRUE(cel.empty()) << Join(cel);
    }
  }
}

// And the reverse: the controller's own parser accepts the Kubernetes examples.
TEST(Examples, ControllerParserAcceptsKubernetesExamples) {
  for (const auto& file : YamlFilesUnder("manifests/examples")) {
    bool ok = false;
    const std::string text = ReadFileText(file, &ok);
    ASSERT_TRUE(ok);
    auto parsed = ParseManifests(text, file, std::filesystem::path(file).parent_path().string());
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    ASSERT_EQ(parsed->size(), 1u) << file;
    const SchemaUpgrade& su = (*parsed)[0];
    EXPECT_EQ(su.namespace_, "ciam");
    EXPECT_EQ(su.dsn.kind, DsnSource::Kind::kSecretKeyRef);
    EXPECT_EQ(su.workload.name, "ciam-" + su.service);
  }
}

}  // namespace
}  // namespace su::testing
