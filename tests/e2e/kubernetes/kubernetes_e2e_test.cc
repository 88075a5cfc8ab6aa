// `schema-upgrade controller --kubernetes` end to end: `kubectl apply -k crds/`, the controller as a
// process with the emulator's kubeconfig, a SchemaUpgrade with the sql engine and no workload
// migrating a real PostgreSQL, `kubectl wait --for=condition=Ready`, `kubectl get su` columns,
// `kubectl describe su` Events, a spec edit reconciled at a new observedGeneration with each
// migration applied once, an object that passes the CRD schema but not our validation going
// Stalled naming the field, and an emulator restart mid-watch (re-list: nothing missed, nothing done
// twice). Every wait is on a condition (kubectl wait, or a poll of the API with a deadline that only
// bounds a broken run); no sleeps. The DSN's password must appear in no status, Event or log line.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "tests/support/bg_process.h"
#include "tests/support/free_port.h"
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

std::string ReadAll(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// GET http://127.0.0.1:port/path; "" when nothing answered.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    (void)!write(fd, req.data(), req.size());
    char buf[8192];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  }
  close(fd);
  return out;
}

// popx fixture versions, in order; folder m<n> holds the first n of them.
const std::vector<std::string> kVersions = {"20150100000001000000", "20150100000002000000", "20150100000003000000",
                                            "20150100000004000000"};

class KubernetesE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = pg_.CreateDatabase("k8s");
    ASSERT_NE(dsn_.find(pg_.password()), std::string::npos);  // the DSN carries a real secret
    const std::string fixture = Env("SU_SOURCE_DIR", ".") + std::string("/tests/fixtures/popx/migrations");
    for (size_t n = 1; n <= kVersions.size(); ++n) {
      fs::path dir = fs::path(work_.path()) / ("m" + std::to_string(n));
      fs::create_directories(dir);
      for (const auto& e : fs::directory_iterator(fixture)) {
        std::string name = e.path().filename().string();
        for (size_t i = 0; i < n; ++i) {
          if (name.rfind(kVersions[i] + "_", 0) == 0) fs::copy_file(e.path(), dir / name);
        }
      }
    }
    emu_.Start();
    if (HasFatalFailure()) return;
    emu_.Kubectl({"apply", "-k", Env("SU_SOURCE_DIR", ".") + std::string("/crds")});
    emu_.Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
  }

  void TearDown() override { StopController(); }

  void StartController(const std::string& resync = "20s") {
    metrics_port_ = FreeTcpPort();
    std::vector<std::string> argv = {Env("SU_BINARY", "schema-upgrade"), "controller", "--kubernetes",
                                     "--kubeconfig", emu_.Kubeconfig(), "--namespace", "default",
                                     "--state-dir", work_.Path("state"), "--resync", resync,
                                     "--metrics-addr", "127.0.0.1:" + std::to_string(metrics_port_),
                                     "--kube-api-qps", "50", "--kube-api-burst", "100"};
    ASSERT_TRUE(proc_.Start(argv, {{"APP_DSN", dsn_}, {"KUBECONFIG", kUnsetEnv}}, work_.Path("controller.log")));
    // Ready once the informer synced and the workers run (a condition, bounded for broken runs).
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (HttpGet(metrics_port_, "/readyz").find(" 200 ") == std::string::npos) {
      ASSERT_FALSE(proc_.Poll().has_value()) << "controller exited\n" << proc_.LogTail();
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "controller never ready\n" << proc_.LogTail();
      std::this_thread::sleep_for(50ms);  // polling interval of the condition above, not a wait for time
    }
  }

  void StopController() {
    if (!proc_.running()) return;
    proc_.Signal(SIGTERM);
    auto end = proc_.Wait(60s);
    ASSERT_TRUE(end.has_value()) << "controller did not stop on SIGTERM\n" << proc_.LogTail();
    EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe() << "\n" << proc_.LogTail();
  }

  std::string Apply(const std::string& name, const std::string& target, const std::string& folder,
                    const std::string& policy = "") {
    std::string path = work_.Path(name + ".yaml");
    std::ofstream(path) << "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: " << name
                        << "\n  namespace: default\nspec:\n  service: " << name << "\n  targetVersion: " << target
                        << "\n  database:\n    dsnFrom:\n      env: APP_DSN\n  migrations:\n    engine: sql\n    path: "
                        << work_.Path(folder) << "\n"
                        << (policy.empty() ? "" : "  policy:\n" + policy);
    return emu_.Kubectl({"apply", "-f", path});
  }

  void WaitReady(const std::string& name) {
    emu_.Kubectl({"wait", "--for=condition=Ready", "su/" + name, "--timeout=180s"});
  }

  std::string Json(const std::string& what) { return emu_.Kubectl({"get", what, "-o", "json"}); }

  // Rows of schema_migration by version, and how many times the audit log saw each one applied.
  std::map<std::string, int> Rows(const std::string& sql) {
    auto db = ConnectPostgres(dsn_, "e2e");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    std::map<std::string, int> out;
    if (!db.ok()) return out;
    auto r = (*db)->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return out;
    for (size_t i = 0; i < r->rows.size(); ++i) out[r->Get(i, 0)] = std::stoi(r->Get(i, 1));
    return out;
  }
  std::map<std::string, int> Applied() {
    return Rows("SELECT version, count(*) FROM schema_migration GROUP BY version ORDER BY version");
  }

  void ExpectNoSecret(const std::string& where, const std::string& text) {
    EXPECT_EQ(text.find(pg_.password()), std::string::npos) << "the DSN password appears in " << where;
  }

  PgServer& pg_ = PgServer::Shared();
  TempDir work_;
  KubeEmulator emu_{{"--persist"}};
  BackgroundProcess proc_;
  std::string dsn_;
  int metrics_port_ = 0;
};

TEST_F(KubernetesE2E, MigratesReportsAndFollowsSpecEditsThroughAnApiServerRestart) {
  StartController();
  if (HasFatalFailure()) return;

  // 1. A new SchemaUpgrade migrates the database and goes Ready.
  Apply("app", "v1", "m2");
  WaitReady("app");
  EXPECT_EQ(Applied(), (std::map<std::string, int>{{kVersions[0], 1}, {kVersions[1], 1}}));
  std::string obj = Json("su/app");
  EXPECT_NE(obj.find("\"observedGeneration\": 1"), std::string::npos) << obj;
  EXPECT_NE(obj.find("\"phase\": \"Succeeded\""), std::string::npos) << obj;
  EXPECT_NE(obj.find("\"currentVersion\": \"" + kVersions[1] + "\""), std::string::npos) << obj;

  // kubectl get shows the printer columns with live values.
  std::string table = emu_.Kubectl({"get", "su"});
  EXPECT_NE(table.find("SERVICE"), std::string::npos) << table;
  EXPECT_NE(table.find("CURRENT"), std::string::npos) << table;
  std::string row = table.substr(table.find("\napp"));
  EXPECT_NE(row.find(kVersions[1]), std::string::npos) << table;
  EXPECT_NE(row.find("Succeeded"), std::string::npos) << table;
  EXPECT_NE(row.find("v1"), std::string::npos) << table;

  // kubectl describe tells the story with Events.
  std::string described = emu_.Kubectl({"describe", "su", "app"});
  EXPECT_NE(described.find("Events:"), std::string::npos) << described;
  EXPECT_NE(described.find("Succeeded"), std::string::npos) << described;

  // 2. A spec edit: new target, one more migration; a new observedGeneration; applied once.
  Apply("app", "v2", "m3");
  WaitReady("app");  // kubectl waits for a Ready condition of the new generation
  obj = Json("su/app");
  EXPECT_NE(obj.find("\"observedGeneration\": 2"), std::string::npos) << obj;
  EXPECT_EQ(Applied(), (std::map<std::string, int>{{kVersions[0], 1}, {kVersions[1], 1}, {kVersions[2], 1}}));

  // 3. An object the CRD schema accepts but our validation does not: Stalled, naming the field.
  Apply("bad", "v1", "m1", "    maintenanceWindow:\n      start: \"02:00\"\n      end: \"04:00\"\n      timeZone: Mars/Olympus\n");
  emu_.Kubectl({"wait", "--for=condition=Stalled", "su/bad", "--timeout=180s"});
  std::string bad = Json("su/bad");
  EXPECT_NE(bad.find("spec.policy.maintenanceWindow.timeZone"), std::string::npos) << bad;
  EXPECT_NE(bad.find("\"reason\": \"InvalidSpec\""), std::string::npos) << bad;

  // 4. The API server restarts mid-watch (its watch history is gone: the informer must re-list). The
  //    spec edit made right after the restart must be seen, and nothing redone.
  emu_.Restart();
  if (HasFatalFailure()) return;
  Apply("app", "v3", "m4");
  WaitReady("app");
  obj = Json("su/app");
  EXPECT_NE(obj.find("\"observedGeneration\": 3"), std::string::npos) << obj;
  std::map<std::string, int> all;
  for (const auto& v : kVersions) all[v] = 1;
  EXPECT_EQ(Applied(), all);
  // The audit log: one successful "up" per version, over all three generations and the restart.
  auto ups = Rows("SELECT version, count(*) FROM schema_upgrade_log WHERE direction = 'up' AND status = 'succeeded' "
                  "GROUP BY version");
  for (const auto& v : kVersions) EXPECT_EQ(ups[v], 1) << v;
  std::string metrics = HttpGet(metrics_port_, "/metrics");
  EXPECT_NE(metrics.find("schema_upgrade_kube_informer_synced 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("schema_upgrade_kube_api_requests_total{code=\"200\",verb=\"patch\"}"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("schema_upgrade_kube_informer_lists"), std::string::npos) << metrics;

  // No secret anywhere a person reads.
  ExpectNoSecret("status", Json("su"));
  ExpectNoSecret("events", emu_.Kubectl({"get", "events", "-o", "json"}));
  ExpectNoSecret("describe", emu_.Kubectl({"describe", "su"}));
  StopController();
  ExpectNoSecret("the controller's log", ReadAll(proc_.log_path()));
}

// dsnFrom.secretKeyRef: a missing Secret is Stalled with a message naming it and the key (and no
// hot loop); once `kubectl create secret` makes it, the next resync migrates. The DSN never shows.
TEST_F(KubernetesE2E, SecretKeyRefIsStalledUntilTheSecretExistsThenMigrates) {
  StartController();
  if (HasFatalFailure()) return;
  std::string path = work_.Path("secret-app.yaml");
  std::ofstream(path) << "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: secret-app\n"
                         "  namespace: default\nspec:\n  service: secret-app\n  targetVersion: v1\n  database:\n"
                         "    dsnFrom:\n      secretKeyRef: {name: app-db, key: dsn}\n  migrations:\n    engine: sql\n"
                         "    path: " << work_.Path("m1") << "\n";
  emu_.Kubectl({"apply", "-f", path});
  emu_.Kubectl({"wait", "--for=condition=Stalled", "su/secret-app", "--timeout=180s"});
  std::string obj = Json("su/secret-app");
  EXPECT_NE(obj.find("Secret default/app-db does not exist"), std::string::npos) << obj;
  EXPECT_NE(obj.find("\"reason\": \"InvalidDatabaseSource\""), std::string::npos) << obj;

  // A Secret without the key: the message names the key and lists the keys it has.
  emu_.Kubectl({"create", "secret", "generic", "app-db", "--from-literal=user=app"});
  emu_.Kubectl({"annotate", "su", "secret-app", "olympus.io/retry=1", "--overwrite"});
  auto deadline = std::chrono::steady_clock::now() + 180s;
  while (Json("su/secret-app").find("has no key dsn (its keys: user)") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << Json("su/secret-app") << proc_.LogTail();
    std::this_thread::sleep_for(100ms);  // polling interval of the condition above
  }

  // The key arrives; no annotation: the resync (20s here) looks again and the upgrade goes on.
  emu_.Kubectl({"delete", "secret", "app-db"});
  emu_.Kubectl({"create", "secret", "generic", "app-db", "--from-literal=dsn=" + dsn_});
  WaitReady("secret-app");
  EXPECT_EQ(Applied(), (std::map<std::string, int>{{kVersions[0], 1}}));

  ExpectNoSecret("status", Json("su"));
  ExpectNoSecret("events", emu_.Kubectl({"get", "events", "-o", "json"}));
  StopController();
  ExpectNoSecret("the controller's log", ReadAll(proc_.log_path()));
}

// The value of a /metrics series (the whole series name up to the value), -1 when absent.
double MetricValue(const std::string& metrics, const std::string& series) {
  size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(metrics.c_str() + at + series.size() + 2);
}

// Issue 10: every pass used to PATCH status (new observedAt and updatedAt), 1000 resources at
// 5 QPS at each resync. A resync that finds a Ready resource as it was writes nothing: the
// object's resourceVersion stays, and Ready's lastTransitionTime with it.
TEST_F(KubernetesE2E, ANoOpResyncDoesNotPatchStatus) {
  StartController("1s");
  if (HasFatalFailure()) return;
  Apply("app", "v1", "m2");
  WaitReady("app");
  const std::string passes = "schema_upgrade_reconcile_results_total{result=\"succeeded\"}";
  // The pass that went Ready may still be finishing: wait for one more pass, then take the object.
  double start = MetricValue(HttpGet(metrics_port_, "/metrics"), passes);
  auto deadline = std::chrono::steady_clock::now() + 120s;
  auto wait_passes = [&](double n) {
    while (MetricValue(HttpGet(metrics_port_, "/metrics"), passes) < n) {
      ASSERT_FALSE(proc_.Poll().has_value()) << "controller exited\n" << proc_.LogTail();
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no resync passes\n" << proc_.LogTail();
      std::this_thread::sleep_for(50ms);  // polling interval of the condition above
    }
  };
  wait_passes(start + 1);
  if (HasFatalFailure()) return;
  std::string rv = emu_.Kubectl({"get", "su/app", "-o", "jsonpath={.metadata.resourceVersion}"});
  std::string since = emu_.Kubectl(
      {"get", "su/app", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].lastTransitionTime}"});
  double before = MetricValue(HttpGet(metrics_port_, "/metrics"), passes);
  wait_passes(before + 3);
  if (HasFatalFailure()) return;
  EXPECT_EQ(emu_.Kubectl({"get", "su/app", "-o", "jsonpath={.metadata.resourceVersion}"}), rv)
      << "a no-op resync patched status\n" << Json("su/app");
  EXPECT_EQ(emu_.Kubectl({"get", "su/app", "-o",
                          "jsonpath={.status.conditions[?(@.type==\"Ready\")].lastTransitionTime}"}),
            since);
}

}  // namespace
}  // namespace su::testing
