// The controller deployed as a pod, end to end: its image built locally from the binary
// (images/build-local.sh, `podman import`, no registry), installed with the real kubectl from crds/
// and manifests/ into the API server emulator running a podman kubelet (tests/emulator/kubeapi/,
// `--kubelet podman`: the pod is a real container with the in-cluster service-account token, and
// every request it makes is checked by RBAC as system:serviceaccount:schema-upgrade-system:
// schema-upgrade). Shows: the pod becomes Ready through its probes (httpGet on the named port
// `health`) and is never restarted by its liveness probe; a SchemaUpgrade applied with kubectl
// reaches Ready against a real PostgreSQL (DSN from a Secret, Deployment bumped and rolled out), and
// so does a Kratos one with the ory engine (migration Jobs of the target image created, read and
// deleted by the pod; the new Kratos serves on the migrated schema);
// removing one rule the operator needs from manifests/rbac.yaml's ClusterRole turns into a
// Forbidden error in the SchemaUpgrade's status naming the permission. So the RBAC is sufficient,
// and each rule is checked rather than waved through. The same install through the Helm chart
// (charts/schema-upgrade-operator, the real helm) becomes Ready and brings a SchemaUpgrade to Ready
// with the chart's own RBAC.
//
// What the test changes in manifests/ (a kustomize overlay over the folder, nothing else): the image
// (the local one), the metrics and health ports (every emulated pod shares the host's network, so
// fixed ports could collide with another test), and a ConfigMap volume holding the sql migrations
// (migrations.path is a folder on the controller's filesystem: the README's documented setup).
// Waits are on conditions (kubectl wait / rollout status, or polls bounded only for broken runs).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <tuple>

#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "tests/support/free_port.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"
#include "tests/support/podman/local_podman.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kNs = "schema-upgrade-system";
constexpr const char* kControllerPods = "app.kubernetes.io/component=controller";
// Fixture images (tests/fixtures/images/build.sh) standing in for two versions of the workload; the
// pods only sleep (the schema check is not what this test is about).
constexpr const char* kAppV1 = "localhost/olympus/athena:v1.0.0";
constexpr const char* kAppV2 = "localhost/olympus/athena:v1.1.0";
// The stand-in Kratos: `serve` refuses a schema that lacks its version's migrations, and `migrate sql
// up -e --yes` (the ory engine's Job) applies them.
constexpr const char* kKratosV1 = "localhost/oryd/kratos:v1.1.0";
constexpr const char* kKratosV2 = "localhost/oryd/kratos:v1.2.0";

std::string SourceDir() {
  const char* s = getenv("SU_SOURCE_DIR");
  return s && *s ? s : ".";
}

class ControllerPodE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(BuildFixtureImages().ok()) << BuildFixtureImages().ToString();
    auto image = BuildControllerImage();
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    image_ = *image;
    dsn_ = pg_.CreateDatabase("ctrlpod");
    emu_.Start();
  }

  // kubectl that may fail: stdout+stderr and the exit code, for diagnostics and negative checks.
  std::pair<int, std::string> TryKubectl(const std::vector<std::string>& args) {
    ProcessSpec spec;
    spec.argv = {"kubectl", "--kubeconfig", emu_.Kubeconfig()};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.timeout = 120s;
    auto r = PosixProcessRunner()->Run(spec);
    if (!r.ok()) return {-1, r.status().ToString()};
    return {r->exit_code, r->out + r->err};
  }
  std::string Get(const std::vector<std::string>& what, const std::string& jsonpath) {
    std::vector<std::string> args = {"get"};
    args.insert(args.end(), what.begin(), what.end());
    args.insert(args.end(), {"-o", "jsonpath=" + jsonpath});
    return TryKubectl(args).second;
  }
  std::string ControllerLogs() {
    return TryKubectl({"-n", kNs, "logs", "-l", kControllerPods, "--tail=40"}).second;
  }
  // Polls until pred() holds; bounded only so that a broken run ends.
  void WaitFor(const std::string& what, const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + 240s;
    while (!pred()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "timed out waiting for " << what << "\ncontroller logs:\n" << ControllerLogs();
      std::this_thread::sleep_for(200ms);  // the poll's interval, not a wait for time to pass
    }
  }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(work_.Path(rel)).parent_path());
    std::ofstream(work_.Path(rel)) << text;
  }

  void WriteMigrations() {
    Write("overlay/m/20240101000001_items.up.sql", "CREATE TABLE items (id int PRIMARY KEY, name text);\n");
    Write("overlay/m/20240101000002_items_name.up.sql", "CREATE INDEX items_name ON items (name);\n");
  }
  void PickPorts() {
    metrics_port_ = FreeTcpPort();
    health_port_ = FreeTcpPort();
    ASSERT_GT(metrics_port_, 0);
    ASSERT_GT(health_port_, 0);
    ASSERT_NE(metrics_port_, health_port_);
  }

  // The overlay: manifests/ as they are but for image, ports and the migrations ConfigMap volume.
  void InstallFromManifests() {
    PickPorts();
    if (HasFatalFailure()) return;
    WriteMigrations();
    std::string manifests = fs::relative(fs::absolute(SourceDir() + "/manifests"), work_.Path("overlay")).string();
    auto colon = image_.rfind(':');
    std::string m = std::to_string(metrics_port_), h = std::to_string(health_port_);
    Write("overlay/kustomization.yaml",
          "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + manifests +
              "\nimages:\n  - name: schema-upgrade-operator\n    newName: " + image_.substr(0, colon) +
              "\n    newTag: " + image_.substr(colon + 1) +
              "\nconfigMapGenerator:\n  - name: app-migrations\n    namespace: schema-upgrade-system\n"
              "    files: [m/20240101000001_items.up.sql, m/20240101000002_items_name.up.sql]\n"
              "    options: {disableNameSuffixHash: true}\n"
              "patches:\n  - target: {kind: Deployment, name: schema-upgrade}\n    patch: |-\n"
              // `test` first: when manifests/ change these lines, the overlay fails loudly.
              "      - {op: test, path: /spec/template/spec/containers/0/args/3, value: '--metrics-addr=:8080'}\n"
              "      - {op: test, path: /spec/template/spec/containers/0/args/4, value: '--health-addr=:8081'}\n"
              "      - {op: test, path: /spec/template/spec/containers/0/ports/1/name, value: health}\n"
              "      - {op: replace, path: /spec/template/spec/containers/0/args/3, value: '--metrics-addr=:" + m + "'}\n"
              "      - {op: replace, path: /spec/template/spec/containers/0/args/4, value: '--health-addr=:" + h + "'}\n"
              "      - {op: replace, path: /spec/template/spec/containers/0/ports/0/containerPort, value: " + m + "}\n"
              "      - {op: replace, path: /spec/template/spec/containers/0/ports/1/containerPort, value: " + h + "}\n"
              "      - {op: add, path: /spec/template/spec/volumes/-, value: {name: migrations, configMap: {name: app-migrations}}}\n"
              "      - {op: add, path: /spec/template/spec/containers/0/volumeMounts/-, value: "
              "{name: migrations, mountPath: /migrations/app, readOnly: true}}\n");
    emu_.Kubectl({"apply", "-k", work_.Path("overlay")});
    emu_.Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
  }

  // The chart (charts/schema-upgrade-operator) with the real helm: values for the image, the ports
  // and the migrations volume; the chart's own RBAC (a ClusterRole by default).
  void InstallWithHelm() {
    PickPorts();
    if (HasFatalFailure()) return;
    WriteMigrations();
    ProcessSpec probe;
    probe.argv = {"helm", "version", "--short"};
    auto have = PosixProcessRunner()->Run(probe);
    if (!have.ok() || !have->Succeeded()) {
      ProcessSpec install;
      install.argv = {"sh", SourceDir() + "/tests/support/install-helm.sh"};
      auto r = PosixProcessRunner()->Run(install);
      ASSERT_TRUE(r.ok() && r->Succeeded()) << "helm is missing and tests/support/install-helm.sh failed";
    }
    auto colon = image_.rfind(':');
    std::string m = std::to_string(metrics_port_), h = std::to_string(health_port_);
    Write("values.yaml", "image: {repository: " + image_.substr(0, colon) + ", tag: '" + image_.substr(colon + 1) +
                             "'}\nhealth: {port: " + h + "}\nmetrics: {port: " + m + ", service: {port: " + m +
                             "}}\nextraVolumes: [{name: migrations, configMap: {name: app-migrations}}]\n"
                             "extraVolumeMounts: [{name: migrations, mountPath: /migrations/app, readOnly: true}]\n");
    emu_.Kubectl({"create", "namespace", kNs});
    emu_.Kubectl({"-n", kNs, "create", "configmap", "app-migrations", "--from-file=" + work_.Path("overlay/m")});
    ProcessSpec helm;
    helm.argv = {"helm", "install", "schema-upgrade-operator", SourceDir() + "/charts/schema-upgrade-operator",
                 "--namespace", kNs, "--kubeconfig", emu_.Kubeconfig(), "-f", work_.Path("values.yaml")};
    helm.env["HOME"] = work_.Path("home");  // helm's cache and config stay in the test's folder
    helm.timeout = 300s;
    auto r = PosixProcessRunner()->Run(helm);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->exit_code, 0) << r->Tail(30);
  }

  void ExpectControllerReady(const std::string& deployment = "schema-upgrade") {
    auto [code, out] = TryKubectl({"-n", kNs, "rollout", "status", "deployment/" + deployment, "--timeout=240s"});
    ASSERT_EQ(code, 0) << out << "\npods:\n" << TryKubectl({"-n", kNs, "get", "pods", "-o", "yaml"}).second
                       << "\ncontroller logs:\n" << ControllerLogs();
    emu_.Kubectl({"-n", kNs, "wait", "--for=condition=Ready", "pod", "-l", kControllerPods, "--timeout=120s"});
    EXPECT_EQ(Get({"-n", kNs, "pods", "-l", kControllerPods}, "{.items[0].spec.containers[0].image}"), image_);
    EXPECT_EQ(Get({"-n", kNs, "pods", "-l", kControllerPods}, "{.items[0].spec.serviceAccountName}"), deployment);
  }

  // A Deployment of kAppV1 (pods that sleep), its DSN Secret, and a SchemaUpgrade to v1.1.0.
  void ApplyApp(const std::string& name) {
    Write(name + ".yaml",
          "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "-db\n  namespace: default\n"
          "stringData:\n  dsn: '" + dsn_ + "'\n---\n"
          "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\n  namespace: default\nspec:\n"
          "  replicas: 1\n  selector:\n    matchLabels: {app: " + name + "}\n  template:\n    metadata:\n"
          "      labels: {app: " + name + "}\n    spec:\n      containers:\n        - name: app\n          image: " +
          kAppV1 + "\n          command: [/bin/sleep, '100000']\n");
    emu_.Kubectl({"apply", "-f", work_.Path(name + ".yaml")});
    emu_.Kubectl({"rollout", "status", "deployment/" + name, "--timeout=180s"});
    Write(name + "-su.yaml",
          "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: " + name +
          "\n  namespace: default\nspec:\n  service: " + name + "\n  targetVersion: v1.1.0\n"
          "  workload:\n    kind: Deployment\n    name: " + name + "\n    container: app\n"
          "  database:\n    dsnFrom:\n      secretKeyRef: {name: " + name + "-db, key: dsn}\n"
          "  migrations:\n    engine: sql\n    path: /migrations/app\n"
          "  policy:\n    lockTimeout: 5s\n    retries:\n      backoff: {initial: 1s, max: 2s}\n"
          "    verify: {settle: 1s}\n");
    emu_.Kubectl({"apply", "-f", work_.Path(name + "-su.yaml")});
  }

  // Kratos at v1.1.0, migrated and serving, and a SchemaUpgrade (engine ory: migration Jobs of the
  // target image) to v1.2.0.
  void ApplyKratos() {
    kratos_dsn_ = pg_.CreateDatabase("ctrlpod_kratos");
    LocalPodman podman;
    ContainerRunSpec setup;
    setup.image = kKratosV1;
    setup.args = {"migrate", "sql", "up", "-e", "--yes"};
    setup.env["DSN"] = kratos_dsn_;
    setup.timeout = 120s;
    auto ran = podman.RunOnce(setup);
    ASSERT_TRUE(ran.ok() && ran->Succeeded()) << (ran.ok() ? ran->Tail() : ran.status().ToString());
    Write("kratos.yaml",
          "apiVersion: v1\nkind: Secret\nmetadata:\n  name: kratos-db\n  namespace: default\n"
          "stringData:\n  dsn: '" + kratos_dsn_ + "'\n---\n"
          "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kratos\n  namespace: default\nspec:\n"
          "  replicas: 1\n  selector:\n    matchLabels: {app: kratos}\n  template:\n    metadata:\n"
          "      labels: {app: kratos}\n    spec:\n      containers:\n        - name: kratos\n          image: " +
          std::string(kKratosV1) + "\n          env:\n            - name: DSN\n              valueFrom:\n"
          "                secretKeyRef: {name: kratos-db, key: dsn}\n"
          "---\napiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: kratos\n  namespace: default\n"
          "spec:\n  service: kratos\n  targetVersion: v1.2.0\n  image: " + kKratosV2 +
          "\n  workload:\n    kind: Deployment\n    name: kratos\n    container: kratos\n"
          "  database:\n    dsnFrom:\n      secretKeyRef: {name: kratos-db, key: dsn}\n"
          "  migrations:\n    engine: ory\n  policy:\n    lockTimeout: 5s\n"
          "    retries:\n      backoff: {initial: 1s, max: 2s}\n    verify: {settle: 1s}\n");
    emu_.Kubectl({"apply", "-f", work_.Path("kratos.yaml")});
  }
  int KratosApplied() {
    auto db = ConnectPostgres(kratos_dsn_, "e2e");
    if (!db.ok()) return -1;
    auto r = (*db)->Query("SELECT count(*) FROM schema_migration");
    return r.ok() && !r->rows.empty() ? std::stoi(r->Get(0, 0)) : -1;
  }

  int Applied() {
    auto db = ConnectPostgres(dsn_, "e2e");
    if (!db.ok()) return -1;
    auto r = (*db)->Query("SELECT count(*) FROM schema_migration");
    return r.ok() && !r->rows.empty() ? std::stoi(r->Get(0, 0)) : -1;
  }

  PgServer& pg_ = PgServer::Shared();
  TempDir work_;
  KubeEmulator emu_{{"--kubelet", "podman"}};
  std::string image_;
  std::string dsn_;
  std::string kratos_dsn_;
  int metrics_port_ = 0;
  int health_port_ = 0;
};

TEST_F(ControllerPodE2E, InstalledFromManifestsItsProbesPassItsRbacSufficesAndIsEnforced) {
  if (HasFatalFailure()) return;
  InstallFromManifests();
  if (HasFatalFailure()) return;
  ExpectControllerReady();
  if (HasFatalFailure()) return;

  // A SchemaUpgrade reaches Ready: the controller read the Secret, migrated, bumped the Deployment
  // and watched its rollout, all with its service account's token.
  ApplyApp("shop");
  auto [code, out] = TryKubectl({"wait", "--for=condition=Ready", "su/shop", "--timeout=240s"});
  ASSERT_EQ(code, 0) << out << "\n" << TryKubectl({"get", "su", "shop", "-o", "yaml"}).second
                     << "\ncontroller logs:\n" << ControllerLogs();
  EXPECT_EQ(Applied(), 2);
  EXPECT_EQ(Get({"deployment/shop"}, "{.spec.template.spec.containers[0].image}"), kAppV2);
  emu_.Kubectl({"rollout", "status", "deployment/shop", "--timeout=120s"});
  EXPECT_EQ(Get({"su/shop"}, "{.status.phase}"), "Succeeded");
  std::string events = TryKubectl({"get", "events", "-n", "default"}).second;
  EXPECT_NE(events.find("Bumped"), std::string::npos) << events;
  // The Lease went to the pod's namespace, held under the pod's name (Role, not ClusterRole).
  std::string pod = Get({"-n", kNs, "pods", "-l", kControllerPods}, "{.items[0].metadata.name}");
  EXPECT_NE(TryKubectl({"-n", kNs, "get", "leases", "-o", "jsonpath={.items[*].spec.holderIdentity}"}).second.find(pod),
            std::string::npos);

  // The ory engine: the controller creates migration Jobs of the target image (the Job's pod gets
  // the DSN from the Secret), reads their pods and logs, deletes them, bumps, and the new Kratos
  // serves on the migrated schema.
  ApplyKratos();
  if (HasFatalFailure()) return;
  int before = KratosApplied();
  std::tie(code, out) = TryKubectl({"wait", "--for=condition=Ready", "su/kratos", "--timeout=300s"});
  ASSERT_EQ(code, 0) << out << "\n" << TryKubectl({"get", "su", "kratos", "-o", "yaml"}).second
                     << "\ncontroller logs:\n" << ControllerLogs();
  EXPECT_GT(KratosApplied(), before);
  EXPECT_EQ(Get({"deployment/kratos"}, "{.spec.template.spec.containers[0].image}"), kKratosV2);
  emu_.Kubectl({"rollout", "status", "deployment/kratos", "--timeout=120s"});
  EXPECT_NE(TryKubectl({"logs", "deployment/kratos"}).second.find("serving"), std::string::npos);
  events = TryKubectl({"get", "events", "-n", "default"}).second;
  EXPECT_NE(events.find("Migrated"), std::string::npos) << events;

  // Take `get secrets` away from the ClusterRole: a new SchemaUpgrade is refused with the API
  // server's Forbidden, and the status says which permission to grant.
  std::string rules = Get({"clusterrole/schema-upgrade"}, "{range .rules[*]}{.resources}{\"\\n\"}{end}");
  int index = 0, secrets_rule = -1;
  for (size_t at = 0, nl; (nl = rules.find('\n', at)) != std::string::npos; at = nl + 1, ++index) {
    if (rules.substr(at, nl - at) == "[\"secrets\"]") secrets_rule = index;
  }
  ASSERT_GE(secrets_rule, 0) << "no rule for secrets in:\n" << rules;
  emu_.Kubectl({"patch", "clusterrole", "schema-upgrade", "--type=json", "-p",
                R"([{"op":"remove","path":"/rules/)" + std::to_string(secrets_rule) + R"("}])"});
  ApplyApp("blocked");
  std::string error;
  WaitFor("a Forbidden error in su/blocked's status", [&] {
    error = Get({"su/blocked"}, "{.status.lastError} {.status.conditions[*].message}");
    return error.find("forbidden") != std::string::npos;
  });
  if (HasFatalFailure()) return;
  for (const char* want : {"secrets \"blocked-db\" is forbidden",
                           "User \"system:serviceaccount:schema-upgrade-system:schema-upgrade\" cannot get resource "
                           "\"secrets\"",
                           "grant the controller's ServiceAccount `get` on secrets"}) {
    EXPECT_NE(error.find(want), std::string::npos) << want << "\nin: " << error;
  }
  EXPECT_EQ(error.find(dsn_), std::string::npos) << "the DSN leaked into the status";
  EXPECT_EQ(Get({"deployment/blocked"}, "{.spec.template.spec.containers[0].image}"), kAppV1) << "nothing changed";

  // Through all of it the liveness probe (httpGet /healthz on the named port) kept passing: the
  // podman kubelet kills a container whose liveness probe fails, and this one was never restarted.
  EXPECT_EQ(Get({"-n", kNs, "pods", "-l", kControllerPods}, "{.items[0].status.containerStatuses[0].restartCount}"), "0");
  EXPECT_EQ(Get({"-n", kNs, "pods", "-l", kControllerPods},
                "{.items[0].status.conditions[?(@.type==\"Ready\")].status}"),
            "True");
}

TEST_F(ControllerPodE2E, InstalledWithTheHelmChartItsProbesPassAndItsRbacSuffices) {
  if (HasFatalFailure()) return;
  InstallWithHelm();
  if (HasFatalFailure()) return;
  ExpectControllerReady("schema-upgrade-operator");
  if (HasFatalFailure()) return;
  ApplyApp("shop");
  auto [code, out] = TryKubectl({"wait", "--for=condition=Ready", "su/shop", "--timeout=240s"});
  ASSERT_EQ(code, 0) << out << "\n" << TryKubectl({"get", "su", "shop", "-o", "yaml"}).second
                     << "\ncontroller logs:\n" << ControllerLogs();
  EXPECT_EQ(Applied(), 2);
  EXPECT_EQ(Get({"deployment/shop"}, "{.spec.template.spec.containers[0].image}"), kAppV2);
  EXPECT_EQ(Get({"-n", kNs, "pods", "-l", kControllerPods}, "{.items[0].status.containerStatuses[0].restartCount}"), "0");
}

}  // namespace
}  // namespace su::testing
