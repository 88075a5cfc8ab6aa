// `schema-upgrade controller --kubernetes` bumps Deployments, end to end: the emulator runs the
// Deployment and ReplicaSet controllers and a simulated kubelet (image rules make a version crash or
// never become ready), PostgreSQL is real, so is kubectl. Every wait is on a condition (kubectl
// wait / rollout status, or a poll of the API bounded only for broken runs); no sleeps.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
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

class RolloutE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = pg_.CreateDatabase("rollout");
    // v2 of the app: two migrations; the second alters a table the GitOps test can keep locked.
    fs::create_directories(work_.Path("m"));
    std::ofstream(work_.Path("m/20240101000001_items.up.sql")) << "CREATE TABLE items (id int PRIMARY KEY);\n";
    std::ofstream(work_.Path("m/20240101000002_gate.up.sql")) << "ALTER TABLE gate ADD COLUMN note text;\n";
    auto db = ConnectPostgres(dsn_, "e2e-setup");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Exec("CREATE TABLE gate (id int)").ok());
    emu_.Start();
    if (HasFatalFailure()) return;
    emu_.Kubectl({"apply", "-k", Env("SU_SOURCE_DIR", ".") + std::string("/crds")});
    emu_.Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
  }
  void TearDown() override {
    if (!proc_.running()) return;
    proc_.Signal(SIGTERM);
    auto end = proc_.Wait(60s);
    EXPECT_TRUE(end.has_value()) << "controller did not stop on SIGTERM\n" << proc_.LogTail();
  }

  void StartController(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {Env("SU_BINARY", "schema-upgrade"), "controller", "--kubernetes",
                                     "--kubeconfig", emu_.Kubeconfig(), "--namespace", "default",
                                     "--state-dir", work_.Path("state"), "--resync", "20s",
                                     "--kube-api-qps", "50", "--kube-api-burst", "100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(proc_.Start(argv, {{"APP_DSN", dsn_}, {"KUBECONFIG", kUnsetEnv}}, work_.Path("controller.log")));
  }

  // A Deployment of `image` with 2 replicas, rolled out.
  void Deploy(const std::string& name, const std::string& image, int progress_deadline = 600) {
    std::string path = work_.Path(name + "-deploy.yaml");
    std::ofstream(path) << "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " << name
                        << "\n  namespace: default\nspec:\n  replicas: 2\n  progressDeadlineSeconds: " << progress_deadline
                        << "\n  selector:\n    matchLabels: {app: " << name << "}\n  template:\n    metadata:\n      labels: {app: "
                        << name << "}\n    spec:\n      containers:\n        - name: sidecar\n          image: envoy:1\n"
                        << "        - name: app\n          image: " << image << "\n";
    emu_.Kubectl({"apply", "-f", path});
    emu_.Kubectl({"rollout", "status", "deployment/" + name, "--timeout=120s"});
  }
  void Rules(const std::string& rules_json) {
    std::string path = work_.Path("rules.json");
    std::ofstream(path) << rules_json;
    emu_.Kubectl({"create", "--raw", "/emulator/images", "-f", path});
  }
  void ApplySu(const std::string& name, const std::string& policy = "") {
    std::string path = work_.Path(name + "-su.yaml");
    std::ofstream(path) << "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: " << name
                        << "\n  namespace: default\nspec:\n  service: " << name
                        << "\n  targetVersion: v2\n  workload:\n    kind: Deployment\n    name: " << name
                        << "\n    container: app\n  database:\n    dsnFrom:\n      env: APP_DSN\n  migrations:\n"
                        << "    engine: sql\n    path: " << work_.Path("m") << "\n  policy:\n    lockTimeout: 1s\n"
                        << "    retries:\n      limit: 50\n      backoff: {initial: 1s, max: 2s}\n"
                        << "    verify: {settle: 1s}\n" << policy;
    emu_.Kubectl({"apply", "-f", path});
  }
  std::string Get(const std::string& what, const std::string& jsonpath) {
    return emu_.Kubectl({"get", what, "-o", "jsonpath=" + jsonpath});
  }
  // Polls until pred() holds; bounded only so that a broken run ends.
  void WaitFor(const std::string& what, const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + 180s;
    while (!pred()) {
      ASSERT_FALSE(proc_.Poll().has_value()) << "controller exited\n" << proc_.LogTail();
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out waiting for " << what << "\n"
                                                            << proc_.LogTail();
      std::this_thread::sleep_for(100ms);  // the poll's interval, not a wait for time to pass
    }
  }
  int Applied() {
    auto db = ConnectPostgres(dsn_, "e2e");
    if (!db.ok()) return -1;
    auto r = (*db)->Query("SELECT count(*) FROM schema_migration");
    return r.ok() && !r->rows.empty() ? std::stoi(r->Get(0, 0)) : -1;
  }
  std::string Events() { return emu_.Kubectl({"get", "events", "-n", "default"}); }

  PgServer& pg_ = PgServer::Shared();
  TempDir work_;
  KubeEmulator emu_;
  BackgroundProcess proc_;
  std::string dsn_;
};

TEST_F(RolloutE2E, MigratesThenBumpsTheDeploymentAndWaitsForItsRollout) {
  Deploy("shop", "registry.local/shop:v1");
  StartController();
  if (HasFatalFailure()) return;
  ApplySu("shop");
  emu_.Kubectl({"wait", "--for=condition=Ready", "su/shop", "--timeout=180s"});
  EXPECT_EQ(Applied(), 2);
  EXPECT_EQ(Get("deployment/shop", "{.spec.template.spec.containers[1].image}"), "registry.local/shop:v2");
  EXPECT_EQ(Get("deployment/shop", "{.spec.template.spec.containers[0].image}"), "envoy:1") << "only app is bumped";
  EXPECT_EQ(Get("deployment/shop", "{.status.updatedReplicas}/{.status.availableReplicas}"), "2/2")
      << "Ready only once the rollout is complete";
  EXPECT_EQ(Get("su/shop", "{.status.previousImage}"), "registry.local/shop:v1");
  EXPECT_EQ(Get("su/shop", "{.status.phase}"), "Succeeded");
  std::string described = emu_.Kubectl({"describe", "su", "shop"});
  EXPECT_NE(described.find("Bumped"), std::string::npos) << described;
}

TEST_F(RolloutE2E, ARolloutPastItsProgressDeadlineIsRolledBackWithRollbackImage) {
  Deploy("pay", "registry.local/pay:v1", /*progress_deadline=*/4);
  Rules(R"({"rules":[{"image":"registry.local/pay:v2","behavior":"crash","exitCode":1,"log":"panic: schema mismatch: expected 20240101000002"}]})");
  StartController();
  if (HasFatalFailure()) return;
  ApplySu("pay", "    onFailure: rollbackImage\n");
  emu_.Kubectl({"wait", "--for=condition=Stalled", "su/pay", "--timeout=180s"});
  EXPECT_EQ(Get("su/pay", "{.status.phase}"), "Failed");
  std::string error = Get("su/pay", "{.status.lastError}");
  for (const char* want : {"ProgressDeadlineExceeded", "pod pay-", "CrashLoopBackOff", "panic: schema mismatch"}) {
    EXPECT_NE(error.find(want), std::string::npos) << want << " in: " << error;
  }
  EXPECT_NE(Get("su/pay", "{.status.failureAction}").find("rollbackImage: image restored to registry.local/pay:v1"),
            std::string::npos)
      << Get("su/pay", "{.status.failureAction}");
  EXPECT_EQ(Get("deployment/pay", "{.spec.template.spec.containers[1].image}"), "registry.local/pay:v1");
  // The old version serves again: its rollout completes (the controller waited for it too).
  emu_.Kubectl({"rollout", "status", "deployment/pay", "--timeout=120s"});
  EXPECT_EQ(Applied(), 2) << "rollbackImage leaves the database alone";
}

TEST_F(RolloutE2E, GitOpsBumpedFirstIsHeldWhileMigratingThenResumed) {
  Deploy("crm", "registry.local/crm:v1");
  // The new version's pods refuse an unmigrated schema: never ready until told otherwise.
  Rules(R"({"rules":[{"image":"registry.local/crm:v2","behavior":"never-ready"}]})");
  // A GitOps sync (here kubectl) bumps the image before the migrations ran.
  emu_.Kubectl({"set", "image", "deployment/crm", "app=registry.local/crm:v2"});
  // Keep the second migration waiting on a lock, so the hold can be seen while it lasts.
  auto blocker = ConnectPostgres(dsn_, "e2e-blocker");
  ASSERT_TRUE(blocker.ok()) << blocker.status().ToString();
  ASSERT_TRUE((*blocker)->Exec("BEGIN").ok());
  ASSERT_TRUE((*blocker)->Exec("LOCK TABLE gate IN ACCESS EXCLUSIVE MODE").ok());
  StartController();
  if (HasFatalFailure()) return;
  ApplySu("crm");
  WaitFor("the rollout to be held", [&] {
    return Get("deployment/crm", "{.spec.paused}") == "true" && Get("su/crm", "{.status.rolloutHold}") == "paused=false";
  });
  if (HasFatalFailure()) return;
  EXPECT_NE(Events().find("RolloutHeld"), std::string::npos) << Events();
  EXPECT_NE(Get("deployment/crm", "{.status.conditions[?(@.type==\"Progressing\")].reason}"), "NewReplicaSetAvailable");

  // The lock goes, the migration runs, the rollout resumes; the new pods become ready on the
  // migrated schema.
  ASSERT_TRUE((*blocker)->Exec("COMMIT").ok());
  WaitFor("the rollout to be resumed", [&] { return Get("su/crm", "{.status.rolloutHold}").empty() && Applied() == 2; });
  if (HasFatalFailure()) return;
  EXPECT_NE(Get("deployment/crm", "{.spec.paused}"), "true");
  Rules(R"({"rules":[]})");
  emu_.Kubectl({"wait", "--for=condition=Ready", "su/crm", "--timeout=180s"});
  EXPECT_EQ(Get("deployment/crm", "{.status.updatedReplicas}/{.status.availableReplicas}"), "2/2");
  std::string events = Events();
  EXPECT_NE(events.find("RolloutResumed"), std::string::npos) << events;
  EXPECT_EQ(Get("su/crm", "{.status.previousImage}"), "") << "nothing was bumped by the controller";
}

// Athena's way: the drizzle folder ships inside the target image (spec.migrations.source image).
// The controller reads it with a Job (init container of athena:v1.1.0, container of the controller
// image, whose simulated run prints what the real `__print-folder` prints for the fixture's folder),
// migrates, bumps, and is Ready; drizzle.__drizzle_migrations holds the target's four rows.
TEST_F(RolloutE2E, DrizzleMigrationsReadFromTheTargetImageThenBumped) {
  const std::string folder = Env("SU_SOURCE_DIR", ".") + std::string("/tests/fixtures/images/athena/v1.1.0");
  BackgroundProcess print;
  ASSERT_TRUE(print.Start({Env("SU_BINARY", "schema-upgrade"), "__print-folder", "--engine", "drizzle", folder}, {},
                          work_.Path("print.out")));
  auto printed = print.Wait(60s);
  ASSERT_TRUE(printed.has_value() && printed->exit_code == 0) << print.LogTail();
  std::ifstream in(work_.Path("print.out"));
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string escaped;
  for (char c : out) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  Rules(R"({"rules":[{"image":"mig-source-e2e/schema-upgrade","behavior":"exit","exitCode":0,"log":")" + escaped +
        R"("}]})");
  Deploy("athena", "localhost/olympus/athena:v1.0.0");
  StartController({"--controller-image", "localhost/mig-source-e2e/schema-upgrade:e2e"});
  if (HasFatalFailure()) return;
  std::string path = work_.Path("athena-su.yaml");
  std::ofstream(path) << "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: athena\n"
                      << "  namespace: default\nspec:\n  targetVersion: v1.1.0\n  workload:\n    kind: Deployment\n"
                      << "    name: athena\n    container: app\n  database:\n    dsnFrom:\n      env: APP_DSN\n"
                      << "  migrations:\n    engine: drizzle\n    source: image\n    path: /migrations\n"
                      << "  policy:\n    verify: {settle: 1s}\n";
  emu_.Kubectl({"apply", "-f", path});
  emu_.Kubectl({"wait", "--for=condition=Ready", "su/athena", "--timeout=180s"});
  EXPECT_EQ(Get("deployment/athena", "{.spec.template.spec.containers[1].image}"), "localhost/olympus/athena:v1.1.0");
  auto db = ConnectPostgres(dsn_, "e2e");
  ASSERT_TRUE(db.ok());
  auto r = (*db)->Query("SELECT count(*) FROM drizzle.__drizzle_migrations");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Get(0, 0), "4");
  EXPECT_NE(proc_.LogTail(1 << 22).find("migrations.read_image"), std::string::npos) << proc_.LogTail();
}

}  // namespace
}  // namespace su::testing
