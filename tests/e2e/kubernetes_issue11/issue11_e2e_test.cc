// Issue 11 in Kubernetes mode, end to end: `schema-upgrade controller --kubernetes` against the
// API server emulator (its Deployment and ReplicaSet controllers and simulated kubelet), a real
// PostgreSQL and the real kubectl. One emulator, one PostgreSQL and one controller (watching the
// namespaces default and other) serve every test; each test has its own names and databases.
// Every wait is on a condition (kubectl wait, or a poll of the API bounded only for broken runs).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <memory>
#include <thread>

#include "reconcilers/database/database.h"
#include "tests/support/bg_process.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string Env(const char* n, const char* fallback) {
  const char* v = getenv(n);
  return v && *v ? v : fallback;
}

// The suite's shared world.
struct World {
  TempDir work;
  KubeEmulator emu;
  BackgroundProcess controller;
  std::map<std::string, std::string> dsn;  // database key -> DSN (env <KEY>_DSN in the controller)
};
World* world = nullptr;

class Issue11KubeE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world = new World;
    PgServer& pg = PgServer::Shared();
    for (const char* db : {"SHOP", "KRATOS", "ATHENA", "ATHENA_OTHER", "PATHS", "UNDO"}) world->dsn[db] = pg.CreateDatabase("i11");
    world->emu.Start();
    world->emu.Kubectl({"apply", "-k", Env("SU_SOURCE_DIR", ".") + std::string("/crds")});
    world->emu.Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
    world->emu.Kubectl({"create", "namespace", "other"});
    std::map<std::string, std::string> env = {{"KUBECONFIG", kUnsetEnv}};
    for (const auto& [k, v] : world->dsn) env[k + "_DSN"] = v;
    world->controller.Start({Env("SU_BINARY", "schema-upgrade"), "controller", "--kubernetes", "--kubeconfig",
                             world->emu.Kubeconfig(), "--namespace", "default", "--namespace", "other", "--state-dir",
                             world->work.Path("state"), "--resync", "20s", "--kube-api-qps", "50",
                             "--kube-api-burst", "100"},
                            env, world->work.Path("controller.log"));
  }
  static void TearDownTestSuite() {
    if (world->controller.running()) {
      world->controller.Signal(SIGTERM);
      EXPECT_TRUE(world->controller.Wait(60s).has_value()) << "controller did not stop on SIGTERM\n"
                                                          << world->controller.LogTail();
    }
    delete world;
    world = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(world->controller.running()) << world->controller.LogTail();
  }

  KubeEmulator& emu() { return world->emu; }
  std::string Path(const std::string& rel) { return world->work.Path(rel); }
  std::string Kubectl(const std::vector<std::string>& args) { return emu().Kubectl(args); }
  std::string Get(const std::string& what, const std::string& jsonpath, const std::string& ns = "default") {
    return Kubectl({"get", what, "-n", ns, "-o", "jsonpath=" + jsonpath});
  }
  std::string Reason(const std::string& su, const std::string& ns = "default") {
    return Get("su/" + su, "{.status.conditions[?(@.type==\"Ready\")].reason}", ns);
  }
  // The migration files of a folder under the work dir: {file name, contents}.
  std::string Folder(const std::string& name, const std::vector<std::pair<std::string, std::string>>& files) {
    fs::create_directories(Path(name));
    for (const auto& [f, text] : files) std::ofstream(Path(name + "/" + f)) << text;
    return Path(name);
  }
  // A Deployment of `image` (container app beside a sidecar) with 2 replicas, rolled out.
  void Deploy(const std::string& name, const std::string& image, int progress_deadline = 600) {
    std::string path = Path(name + "-deploy.yaml");
    std::ofstream(path) << "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " << name
                        << "\n  namespace: default\nspec:\n  replicas: 2\n  progressDeadlineSeconds: " << progress_deadline
                        << "\n  selector:\n    matchLabels: {app: " << name
                        << "}\n  template:\n    metadata:\n      labels: {app: " << name
                        << "}\n    spec:\n      containers:\n        - name: sidecar\n          image: envoy:1\n"
                        << "        - name: app\n          image: " << image << "\n";
    Kubectl({"apply", "-f", path});
    Kubectl({"rollout", "status", "deployment/" + name, "--timeout=120s"});
  }
  // A SchemaUpgrade of the sql engine; `workload` false leaves spec.workload out; `more` is spliced
  // into spec (two-space indented lines) and `policy` into spec.policy (four-space indented).
  void ApplySu(const std::string& name, const std::string& ns, const std::string& db, const std::string& folder,
               const std::string& target, bool workload, const std::string& more = "", const std::string& policy = "") {
    std::string path = Path(ns + "-" + name + "-su.yaml");
    std::ofstream out(path);
    out << "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: " << name << "\n  namespace: " << ns
        << "\nspec:\n  service: " << name << "\n  targetVersion: " << target << "\n";
    if (workload) out << "  workload:\n    kind: Deployment\n    name: " << name << "\n    container: app\n";
    out << "  database:\n    dsnFrom:\n      env: " << db << "_DSN\n  migrations:\n    engine: sql\n    path: " << folder
        << "\n" << more << "  policy:\n    lockTimeout: 1s\n    retries:\n      limit: 50\n"
        << "      backoff: {initial: 1s, max: 2s}\n    verify: {settle: 1s}\n" << policy;
    out.close();
    Kubectl({"apply", "-f", path});
  }
  // Polls until pred() holds; bounded only so that a broken run ends. `never` is checked on each
  // round: when it holds, the test fails at once (a step that must not happen yet happened).
  void WaitFor(const std::string& what, const std::function<bool()>& pred,
               const std::function<std::string()>& never = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + 180s;
    while (!pred()) {
      ASSERT_FALSE(world->controller.Poll().has_value()) << "controller exited\n" << world->controller.LogTail();
      if (never) {
        std::string broke = never();
        ASSERT_TRUE(broke.empty()) << broke << "\n" << world->controller.LogTail();
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out waiting for " << what << "\n"
                                                            << world->controller.LogTail();
      std::this_thread::sleep_for(100ms);  // the poll's interval, not a wait for time to pass
    }
  }
  std::unique_ptr<Database> Db(const std::string& db) {
    auto c = ConnectPostgres(world->dsn[db], "e2e");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  // One value from the database (empty on an error, e.g. a table that does not exist yet).
  std::string Scalar(const std::string& db, const std::string& sql) {
    auto c = Db(db);
    if (!c) return "";
    auto r = c->Query(sql);
    return r.ok() && !r->rows.empty() ? r->Get(0, 0) : "";
  }
  int Applied(const std::string& db) {
    std::string n = Scalar(db, "SELECT count(*) FROM schema_migration");
    return n.empty() ? 0 : std::stoi(n);
  }
};

// Expand, bump, verify, then contract only once no pod of the old version runs: the old
// ReplicaSet's pod that is being deleted but still serves (held here by a finalizer, as by a long
// grace period) keeps the contract Waiting, named in the status, although the rollout is complete.
TEST_F(Issue11KubeE2E, ContractWaitsForATerminatingOldPodThenRunsAndOnlyThenReady) {
  auto setup = Db("SHOP");
  ASSERT_TRUE(setup && setup->Exec("CREATE TABLE users (id int PRIMARY KEY, mail text)").ok());
  ASSERT_TRUE(setup->Exec("INSERT INTO users VALUES (1, 'a@b')").ok());
  std::string folder = Folder("m-shop", {{"20240101000001_email.up.sql", "ALTER TABLE users ADD COLUMN email text;\n"},
                                         {"20240101000002_drop_mail.up.sql",
                                          "-- The old version still reads users.mail.\n"
                                          "-- schema-upgrade: phase=contract\nALTER TABLE users DROP COLUMN mail;\n"}});
  Deploy("shop", "registry.local/shop:v1");
  // One of v1's pods gets a finalizer: deleted by the rollout, it stays (terminating) until removed.
  const std::string pod = Kubectl({"get", "pods", "-l", "app=shop", "-o", "jsonpath={.items[0].metadata.name}"});
  ASSERT_FALSE(pod.empty());
  Kubectl({"patch", "pod", pod, "--type=merge", "-p", R"({"metadata":{"finalizers":["e2e.olympus.io/hold"]}})"});
  ApplySu("shop", "default", "SHOP", folder, "v2", /*workload=*/true);

  auto contract_ran = [&]() -> std::string {
    return Applied("SHOP") >= 2 ? "the contract migration ran while pod " + pod + " still ran the old image" : "";
  };
  WaitFor("the contract to wait for the old pod", [&] { return Reason("shop") == "OldVersionRunning"; }, contract_ran);
  if (HasFatalFailure()) return;
  // The expand phase ran, the bump rolled out, the old pod is terminating but still there.
  EXPECT_EQ(Applied("SHOP"), 1);
  EXPECT_EQ(Get("deployment/shop", "{.spec.template.spec.containers[1].image}"), "registry.local/shop:v2");
  EXPECT_EQ(Get("deployment/shop", "{.status.updatedReplicas}/{.status.availableReplicas}"), "2/2");
  EXPECT_FALSE(Get("pod/" + pod, "{.metadata.deletionTimestamp}").empty());
  EXPECT_EQ(Get("su/shop", "{.status.phase}"), "Waiting");
  std::string message = Get("su/shop", "{.status.message}");
  for (const std::string& want : {std::string("still run registry.local/shop:v1"), "pod " + pod}) {
    EXPECT_NE(message.find(want), std::string::npos) << want << " in: " << message;
  }
  EXPECT_EQ(Get("su/shop", "{.status.conditions[?(@.type==\"Ready\")].status}"), "False");
  EXPECT_EQ(Scalar("SHOP", "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'mail'"), "1");

  // The old pod goes: the contract runs, and only then is the upgrade Ready.
  Kubectl({"patch", "pod", pod, "--type=merge", "-p", R"({"metadata":{"finalizers":null}})"});
  Kubectl({"wait", "--for=condition=Ready", "su/shop", "--timeout=120s"});
  EXPECT_EQ(Applied("SHOP"), 2);
  EXPECT_EQ(Scalar("SHOP", "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'mail'"), "0");
  EXPECT_EQ(Get("su/shop", "{.status.phase}"), "Succeeded");
}

// Athena after Kratos: the dependent waits, with the wait in its status and nothing changed, while
// Kratos's migration is held by a lock; it goes ahead once Kratos is Ready at its target. dependsOn
// names a SchemaUpgrade of the same namespace (docs/depends-on.md): an Athena in namespace other
// waits for other/kratos, which does not exist, however Ready default/kratos is.
TEST_F(Issue11KubeE2E, AthenaWaitsForKratosInItsNamespaceThenGoesAhead) {
  ASSERT_TRUE(Db("KRATOS")->Exec("CREATE TABLE gate (id int)").ok());
  std::string kratos = Folder("m-kratos", {{"20240101000001_identities.up.sql", "CREATE TABLE identities (id int PRIMARY KEY);\n"},
                                           {"20240101000002_gate.up.sql", "ALTER TABLE gate ADD COLUMN note text;\n"}});
  std::string athena = Folder("m-athena", {{"20240201000001_items.up.sql", "CREATE TABLE items (id int PRIMARY KEY);\n"}});
  Deploy("kratos", "registry.local/kratos:v1");
  Deploy("athena", "registry.local/athena:v1");
  // Kratos's second migration waits on this lock (lockTimeout 1s, retried) until it is released.
  auto blocker = Db("KRATOS");
  ASSERT_TRUE(blocker);
  ASSERT_TRUE(blocker->Exec("BEGIN").ok());
  ASSERT_TRUE(blocker->Exec("LOCK TABLE gate IN ACCESS EXCLUSIVE MODE").ok());
  ApplySu("kratos", "default", "KRATOS", kratos, "v2", /*workload=*/true);
  ApplySu("athena", "default", "ATHENA", athena, "v2", /*workload=*/true, "  dependsOn:\n    - name: kratos\n");

  WaitFor("athena to wait for kratos", [&] { return Reason("athena") == "WaitingForDependency" && Applied("KRATOS") == 1; });
  if (HasFatalFailure()) return;
  EXPECT_EQ(Get("su/athena", "{.status.phase}"), "Waiting");
  std::string message = Get("su/athena", "{.status.message}");
  for (const char* want : {"default/kratos", "v2", "nothing was changed"}) {
    EXPECT_NE(message.find(want), std::string::npos) << want << " in: " << message;
  }
  EXPECT_EQ(Applied("ATHENA"), 0);
  EXPECT_EQ(Get("deployment/athena", "{.spec.template.spec.containers[1].image}"), "registry.local/athena:v1");
  EXPECT_NE(Get("su/kratos", "{.status.conditions[?(@.type==\"Ready\")].status}"), "True") << "kratos is still migrating";

  // The lock goes: Kratos finishes, then Athena migrates and bumps.
  ASSERT_TRUE(blocker->Exec("COMMIT").ok());
  Kubectl({"wait", "--for=condition=Ready", "su/kratos", "su/athena", "--timeout=120s"});
  EXPECT_EQ(Applied("ATHENA"), 1);
  EXPECT_EQ(Get("deployment/athena", "{.spec.template.spec.containers[1].image}"), "registry.local/athena:v2");
  // Athena's migration ran after Kratos's last one (one PostgreSQL server: one clock).
  const std::string kratos_done = Scalar("KRATOS", "SELECT max(applied_at) FROM schema_upgrade_checksum");
  ASSERT_FALSE(kratos_done.empty());
  EXPECT_EQ(Scalar("ATHENA", "SELECT min(applied_at) > '" + kratos_done + "'::timestamptz FROM schema_upgrade_checksum"), "t");

  // Same name, other namespace: default/kratos does not satisfy it.
  ApplySu("athena", "other", "ATHENA_OTHER", athena, "v2", /*workload=*/false, "  dependsOn:\n    - name: kratos\n");
  WaitFor("other/athena to wait", [&] { return Reason("athena", "other") == "WaitingForDependency"; });
  if (HasFatalFailure()) return;
  message = Get("su/athena", "{.status.message}", "other");
  for (const char* want : {"other/kratos", "does not exist"}) {
    EXPECT_NE(message.find(want), std::string::npos) << want << " in: " << message;
  }
  EXPECT_EQ(Applied("ATHENA_OTHER"), 0);
}

// spec.upgradePath on a Deployment: v1.1.0 -> v1.2.0 over the required v1.1.5 is refused before
// any change; with policy.stepThrough the controller migrates up to v1.1.5's last migration, bumps
// the Deployment to v1.1.5, verifies its rollout, then does the same for v1.2.0.
TEST_F(Issue11KubeE2E, ASkipLevelJumpIsRefusedThenSteppedThroughOnADeployment) {
  std::string folder = Folder("m-paths", {{"20240101000001_a.up.sql", "CREATE TABLE step_a (id int);\n"},
                                          {"20240101000002_b.up.sql", "CREATE TABLE step_b (id int);\n"}});
  Deploy("paths", "registry.local/paths:v1.1.0");
  const std::string path = "  upgradePath:\n    - version: v1.1.5\n      migrationsUpTo: \"20240101000001\"\n";
  ApplySu("paths", "default", "PATHS", folder, "v1.2.0", /*workload=*/true, path);
  Kubectl({"wait", "--for=condition=Stalled", "su/paths", "--timeout=120s"});
  EXPECT_EQ(Reason("paths"), "UpgradePathRequired");
  std::string message = Get("su/paths", "{.status.message}");
  for (const char* want : {"v1.1.0 -> v1.1.5 -> v1.2.0", "stepThrough", "nothing was changed"}) {
    EXPECT_NE(message.find(want), std::string::npos) << want << " in: " << message;
  }
  EXPECT_EQ(Applied("PATHS"), 0);
  EXPECT_EQ(Get("deployment/paths", "{.spec.template.spec.containers[1].image}"), "registry.local/paths:v1.1.0");

  Kubectl({"patch", "su", "paths", "--type=merge", "-p", R"({"spec":{"policy":{"stepThrough":true}}})"});
  Kubectl({"wait", "--for=condition=Ready", "su/paths", "--timeout=180s"});
  EXPECT_EQ(Applied("PATHS"), 2);
  EXPECT_EQ(Get("deployment/paths", "{.spec.template.spec.containers[1].image}"), "registry.local/paths:v1.2.0");
  EXPECT_EQ(Get("su/paths", "{.status.upgradePath.done}"), "[\"v1.1.5\"]");
  // The Deployment went through v1.1.5: its ReplicaSet (revision 2) exists and was rolled out
  // after step_a and before step_b was created.
  std::string rs = Kubectl({"get", "rs", "-l", "app=paths", "-o",
                            "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision} "
                            "{.spec.template.spec.containers[1].image} {.metadata.creationTimestamp}\n{end}"});
  std::string step_rs;
  std::istringstream lines(rs);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("registry.local/paths:v1.1.5") != std::string::npos) step_rs = line;
  }
  ASSERT_FALSE(step_rs.empty()) << rs;
  EXPECT_EQ(step_rs.substr(0, 2), "2 ") << rs;
  const std::string created = step_rs.substr(step_rs.rfind(' ') + 1);
  EXPECT_EQ(Scalar("PATHS", "SELECT (SELECT applied_at FROM schema_upgrade_checksum WHERE version = '20240101000001') < '" +
                                created + "'::timestamptz + interval '1 second' AND (SELECT applied_at FROM "
                                "schema_upgrade_checksum WHERE version = '20240101000002') >= '" + created +
                                "'::timestamptz"),
            "t")
      << rs;
  std::string events = Kubectl({"get", "events", "-n", "default"});
  EXPECT_NE(events.find("SteppedThrough"), std::string::npos) << events;
}

// onFailure: rollback on a Deployment: v2's pods crash past the progress deadline, the controller
// patches the image back to v1 and waits for that rollout, then runs the down migrations of what
// it applied; the audit log has them in that order.
TEST_F(Issue11KubeE2E, CombinedRollbackPutsTheDeploymentImageBackThenTheSchema) {
  std::string folder = Folder("m-undo", {{"20240101000001_accounts.up.sql", "CREATE TABLE accounts (id int PRIMARY KEY);\n"},
                                         {"20240101000001_accounts.down.sql", "DROP TABLE accounts;\n"},
                                         {"20240101000002_roles.up.sql", "CREATE TABLE roles (name text PRIMARY KEY);\n"},
                                         {"20240101000002_roles.down.sql", "DROP TABLE roles;\n"}});
  Deploy("undo", "registry.local/undo:v1", /*progress_deadline=*/4);
  std::string rules = Path("undo-rules.json");
  std::ofstream(rules) << R"({"rules":[{"image":"registry.local/undo:v2","behavior":"crash","exitCode":1,"log":"panic: v2 cannot start"}]})";
  Kubectl({"create", "--raw", "/emulator/images", "-f", rules});
  ApplySu("undo", "default", "UNDO", folder, "v2", /*workload=*/true, "", "    onFailure: rollback\n");
  Kubectl({"wait", "--for=condition=Stalled", "su/undo", "--timeout=180s"});
  EXPECT_EQ(Get("su/undo", "{.status.phase}"), "Failed");
  std::string action = Get("su/undo", "{.status.failureAction}");
  for (const char* want : {"rollback: rollbackImage: image restored to registry.local/undo:v1",
                           "then the schema: runDown: 2 migration(s) rolled back"}) {
    EXPECT_NE(action.find(want), std::string::npos) << want << " in: " << action;
  }
  EXPECT_NE(Get("su/undo", "{.status.lastError}").find("panic: v2 cannot start"), std::string::npos)
      << Get("su/undo", "{.status.lastError}");
  EXPECT_EQ(Get("deployment/undo", "{.spec.template.spec.containers[1].image}"), "registry.local/undo:v1");
  Kubectl({"rollout", "status", "deployment/undo", "--timeout=120s"});
  EXPECT_EQ(Applied("UNDO"), 0);
  EXPECT_EQ(Scalar("UNDO", "SELECT count(*) FROM pg_tables WHERE tablename IN ('accounts', 'roles')"), "0");
  // Image first (its rollout waited for), then the schema.
  auto db = Db("UNDO");
  ASSERT_TRUE(db);
  auto rows = db->Query("SELECT direction || ' ' || status || ' ' || version FROM schema_upgrade_log "
                        "WHERE resource = 'default/undo' AND direction NOT IN ('upgrade-start') ORDER BY id");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  std::string trail;
  for (size_t i = 0; i < rows->rows.size(); ++i) trail += rows->Get(i, 0) + "\n";
  EXPECT_EQ(trail,
            "up succeeded 20240101000001\n"
            "up succeeded 20240101000002\n"
            "bump succeeded v2\n"
            "rollback started v2\n"
            "rollback-image succeeded v2\n"
            "down succeeded 20240101000002\n"
            "down succeeded 20240101000001\n"
            "rollback succeeded v2\n"
            "on-failure succeeded v2\n");
}

}  // namespace
}  // namespace su::testing
