// `schema-upgrade controller --kubernetes` running the ory engine's migration Jobs, end to end: the
// API server emulator runs the Jobs' pods as real podman containers of the fixture Kratos images
// (tests/fixtures/images), PostgreSQL is real, so is kubectl. One emulator serves every test (a
// namespace, a database and a controller per test).
//  - A migration Job that fails (localhost/oryd/kratos:v1.2.1-broken: its last migration names a
//    missing table) is retried with the policy's backoff under the same Job name (the finished Job
//    deleted, a new one created), each attempt's log lines in status and a Warning Event; after
//    retries.limit retries it is permanent: Failed, Stalled, and halted (resync passes start nothing).
//  - kill -9 of the controller while the up Job runs (held deterministically: a test session holds a
//    lock its migration needs): the restarted controller adopts that Job (one Job, one pod ever),
//    waits for it and goes Ready; every version is recorded once.
// Every wait is on a condition (kubectl wait, or a poll bounded only so a broken run ends); no sleeps.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "reconcilers/database/database.h"
#include "tests/support/bg_process.h"
#include "tests/support/free_port.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"
#include "tests/support/podman/local_podman.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

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

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
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

double MetricValue(const std::string& metrics, const std::string& series) {
  size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(metrics.c_str() + at + series.size() + 2);
}

constexpr const char* kKratosOld = "localhost/oryd/kratos:v1.1.0";

class KubeJobsE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    images_ = BuildFixtureImages();
    if (!images_.ok()) return;
    emu_ = new KubeEmulator({"--kubelet", "podman"});
    emu_->Start();
    emu_->ApplyCrd();
    emu_->Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
  }
  static void TearDownTestSuite() {
    delete emu_;  // stops the emulator, which removes its own containers
    emu_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(images_.ok()) << images_.ToString();
    ASSERT_NE(emu_, nullptr);
    ns_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (auto& c : ns_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ns_ = ns_.substr(0, 40);
    dsn_ = pg_.CreateDatabase("kjobs");
    emu_->Kubectl({"create", "namespace", ns_});
    emu_->Kubectl({"create", "secret", "generic", "kratos-db", "-n", ns_, "--from-literal=dsn=" + dsn_});
  }
  void TearDown() override {
    if (proc_.running()) {
      proc_.Signal(SIGTERM);
      auto end = proc_.Wait(60s);
      EXPECT_TRUE(end.has_value()) << "controller did not stop on SIGTERM\n" << proc_.LogTail();
    }
    // The namespace's Jobs, pods and their containers go with it.
    if (emu_) (void)Kubectl({"delete", "namespace", ns_, "--wait=false"});
  }

  std::string Kubectl(std::vector<std::string> args) {
    args.insert(args.end(), {"-n", ns_});
    return emu_->Kubectl(args);
  }
  std::string Get(const std::string& what, const std::string& jsonpath) {
    return Kubectl({"get", what, "-o", "jsonpath=" + jsonpath});
  }
  void ApplyYaml(const std::string& name, const std::string& yaml) {
    std::string path = work_.Path(name + ".yaml");
    std::ofstream(path) << yaml;
    Kubectl({"apply", "-f", path});
  }

  void StartController(BackgroundProcess* proc, const std::string& log) {
    metrics_port_ = FreeTcpPort();
    std::vector<std::string> argv = {Env("SU_BINARY", "schema-upgrade"), "controller", "--kubernetes",
                                     "--kubeconfig", emu_->Kubeconfig(), "--namespace", ns_,
                                     "--state-dir", work_.Path("state"), "--resync", "1s",
                                     "--metrics-addr", "127.0.0.1:" + std::to_string(metrics_port_),
                                     "--kube-api-qps", "50", "--kube-api-burst", "100"};
    ASSERT_TRUE(proc->Start(argv, {{"KUBECONFIG", kUnsetEnv}}, work_.Path(log)));
  }

  // Deployment kratos of `image` (container kratos), rolled out.
  void Deploy(const std::string& image, int replicas) {
    ApplyYaml("deploy", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kratos\nspec:\n  replicas: " +
                            std::to_string(replicas) +
                            "\n  selector:\n    matchLabels: {app: kratos}\n  template:\n    metadata:\n      labels: "
                            "{app: kratos}\n    spec:\n      containers:\n        - name: kratos\n          image: " +
                            image +
                            "\n          env:\n            - name: DSN\n              valueFrom:\n"
                            "                secretKeyRef: {name: kratos-db, key: dsn}\n");
    Kubectl({"rollout", "status", "deployment/kratos", "--timeout=180s"});
  }
  void ApplySu(const std::string& target, const std::string& retries) {
    ApplyYaml("su", "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: kratos\nspec:\n"
                    "  service: kratos\n  targetVersion: " + target +
                        "\n  workload: {kind: Deployment, name: kratos, container: kratos}\n"
                        "  database:\n    dsnFrom:\n      secretKeyRef: {name: kratos-db, key: dsn}\n"
                        "  migrations:\n    engine: ory\n    command: [kratos, migrate, sql, up, -e, --yes]\n"
                        "  policy:\n    lockTimeout: 5s\n    retries: " + retries + "\n    verify: {settle: 1s}\n");
  }

  // Polls until pred() holds; bounded only so that a broken run ends.
  void WaitFor(BackgroundProcess* proc, const std::string& what, const std::function<bool()>& pred,
               std::chrono::seconds limit = 240s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      ASSERT_FALSE(proc->Poll().has_value()) << "controller exited\n" << proc->LogTail();
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out waiting for " << what << "\n"
                                                            << proc->LogTail();
      std::this_thread::sleep_for(100ms);  // the poll's interval, not a wait for time to pass
    }
  }

  std::string Sql1(const std::string& sql) {
    auto db = ConnectPostgres(dsn_, "e2e-jobs");
    if (!db.ok()) return "error: " + db.status().ToString();
    auto r = (*db)->Query(sql);
    if (!r.ok()) return "error: " + r.status().ToString();
    return r->rows.empty() ? "" : r->Get(0, 0);
  }
  std::vector<std::string> SqlColumn(const std::string& sql) {
    std::vector<std::string> out;
    auto db = ConnectPostgres(dsn_, "e2e-jobs");
    if (!db.ok()) return out;
    auto r = (*db)->Query(sql);
    if (!r.ok()) return out;
    for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(r->Get(i, 0));
    return out;
  }

  // The name of this namespace's migrate-up Job ("" when none exists now).
  std::string UpJobName() {
    for (const auto& l : Lines(Get("jobs", "{range .items[*]}{.metadata.name} {.metadata.annotations.olympus\\.io/command}{\"\\n\"}{end}"))) {
      if (l.find(" kratos migrate sql up") != std::string::npos) return l.substr(0, l.find(' '));
    }
    return "";
  }
  // The uids of every Job named `job` that the Job controller ever started a pod for (its
  // SuccessfulCreate Events outlive the Jobs), and how many pods it created in all.
  std::set<std::string> JobIncarnations(const std::string& job, int* pods = nullptr) {
    std::set<std::string> uids;
    int n = 0;
    for (const auto& l : Lines(Get("events", "{range .items[?(@.reason==\"SuccessfulCreate\")]}{.involvedObject.kind} "
                                             "{.involvedObject.name} {.involvedObject.uid}{\"\\n\"}{end}"))) {
      std::istringstream in(l);
      std::string kind, name, uid;
      in >> kind >> name >> uid;
      if (kind != "Job" || name != job) continue;
      uids.insert(uid);
      ++n;
    }
    if (pods) *pods = n;
    return uids;
  }

  static inline Status images_;
  static inline KubeEmulator* emu_ = nullptr;
  PgServer& pg_ = PgServer::Shared();
  TempDir work_;
  BackgroundProcess proc_;
  std::string ns_;
  std::string dsn_;
  int metrics_port_ = 0;
};

// The policy the code implements (ContainerRuntime::RetriesFailedRuns, the reconciler's Migrate
// step): a migration Job whose migrator exits non-zero is retried with policy.retries' backoff up to
// retries.limit times in a row; each retry deletes the finished Job and creates it again under the
// same name; the next failure is permanent (onFailure, Failed, Stalled) and nothing runs again.
TEST_F(KubeJobsE2E, FailingMigrationJobIsRetriedUnderItsNameWithBackoffThenHalted) {
  Deploy(kKratosOld, 0);
  StartController(&proc_, "controller.log");
  if (HasFatalFailure()) return;
  ApplySu("v1.2.1-broken", "{limit: 2, backoff: {initial: 3s, max: 60s}}");

  // While it retries: not Failed, the attempt's log lines in status, a Warning Event.
  WaitFor(&proc_, "the first retry", [&] { return Get("su/kratos", "{.status.attempts}") == "1"; });
  if (HasFatalFailure()) return;
  EXPECT_NE(Get("su/kratos", "{.status.phase}"), "Failed");
  EXPECT_EQ(Get("su/kratos", "{.status.conditions[?(@.type==\"Reconciling\")].reason}"), "MigrationRetryable");
  std::string first_error = Get("su/kratos", "{.status.lastError}");
  EXPECT_NE(first_error.find("relation \"session_device\" does not exist"), std::string::npos) << first_error;
  EXPECT_NE(first_error.find("retried with policy.retries' backoff"), std::string::npos) << first_error;

  Kubectl({"wait", "--for=condition=Stalled", "su/kratos", "--timeout=300s"});
  EXPECT_EQ(Get("su/kratos", "{.status.phase}"), "Failed");
  EXPECT_EQ(Get("su/kratos", "{.status.conditions[?(@.type==\"Stalled\")].reason}"), "MigrationFailed");
  std::string error = Get("su/kratos", "{.status.lastError}");
  const std::string job = UpJobName();
  ASSERT_NE(job, "") << "the failed Job is kept (ttlSecondsAfterFinished) for its logs\n" << Get("jobs", "{.items}");
  for (const std::string& want :
       {std::string("failed 3 times in a row (policy.retries.limit 2"), std::string("sessions_backfill_devices"),
        std::string("relation \"session_device\" does not exist"), std::string("failed and was rolled back"),
        "kubectl logs job/" + job + " -n " + ns_}) {
    EXPECT_NE(error.find(want), std::string::npos) << want << " in: " << error;
  }
  EXPECT_EQ(error.find(pg_.password()), std::string::npos) << "the DSN's password in status";
  std::string described = Kubectl({"describe", "su", "kratos"});
  EXPECT_NE(described.find("Warning  MigrationRetryable"), std::string::npos) << described;
  EXPECT_NE(described.find("Warning  MigrationFailed"), std::string::npos) << described;
  EXPECT_NE(Kubectl({"logs", "job/" + job}).find("session_device"), std::string::npos);

  // Three attempts, one Job name: each retry deleted the finished Job and created it again.
  int pods = 0;
  EXPECT_EQ(JobIncarnations(job, &pods).size(), 3u);
  EXPECT_EQ(pods, 3);
  // Spaced per the backoff (3 s, then 6 s), from the audit rows of the migrator runs: the gap
  // between a run's end and the next run's start. next_retry_at is kept in whole seconds, so a pass
  // may start up to 1 s before the backoff's end.
  auto gaps = SqlColumn(
      "SELECT extract(epoch FROM started_at - lag(finished_at) OVER (ORDER BY id)) FROM schema_upgrade_log "
      "WHERE engine = 'ory' AND name = 'localhost/oryd/kratos:v1.2.1-broken' AND direction = 'up' ORDER BY id");
  ASSERT_EQ(gaps.size(), 3u) << "one audit row per migrator run";
  EXPECT_GE(std::stod(gaps[1]), 2.0) << "first retry after initial backoff 3s";
  EXPECT_GE(std::stod(gaps[2]), 5.0) << "second retry after the doubled backoff 6s";
  // What did apply stays (popx commits each migration); the broken one is not recorded.
  EXPECT_EQ(Sql1("SELECT count(*) FROM schema_migration"), "8");
  EXPECT_EQ(Sql1("SELECT count(*) FROM schema_migration WHERE version = '20240501000002000000'"), "0");

  // Halted: resync passes (every second) find it Failed and start nothing.
  const std::string failed = "schema_upgrade_reconcile_results_total{result=\"failed\"}";
  double before = MetricValue(HttpGet(metrics_port_, "/metrics"), failed);
  WaitFor(&proc_, "three more passes", [&] { return MetricValue(HttpGet(metrics_port_, "/metrics"), failed) >= before + 3; });
  if (HasFatalFailure()) return;
  EXPECT_EQ(JobIncarnations(job).size(), 3u) << "a halted failure started another Job";
  EXPECT_EQ(Get("su/kratos", "{.status.phase}"), "Failed");
  EXPECT_EQ(Get("deployment/kratos", "{.spec.template.spec.containers[0].image}"), kKratosOld) << "no bump";
}

// kill -9 while the up Job runs: the Job (and its migrator container) lives on; the restarted
// controller finds it under its name, adopts it, waits for it and finishes the upgrade. Exactly
// one Job and one pod were ever created for that step; each version is recorded once.
TEST_F(KubeJobsE2E, ControllerKilledWhileTheJobRunsAdoptsItAfterRestartAndNothingRunsTwice) {
  // The database at v1.1.0, migrated by a Job of the old image as the app would be.
  ApplyYaml("seed", std::string("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: seed\nspec:\n  backoffLimit: 0\n"
                                "  template:\n    spec:\n      restartPolicy: Never\n      containers:\n"
                                "        - name: migrate\n          image: ") +
                        kKratosOld +
                        "\n          args: [migrate, sql, up, -e, --yes]\n          env:\n            - name: DSN\n"
                        "              valueFrom:\n                secretKeyRef: {name: kratos-db, key: dsn}\n");
  Kubectl({"wait", "--for=condition=complete", "job/seed", "--timeout=180s"});
  ASSERT_EQ(Sql1("SELECT count(*) FROM schema_migration"), "4");
  Deploy(kKratosOld, 1);
  // v1.2.0's first migration references identities: it waits for this lock until the test lets go.
  auto holder = ConnectPostgres(dsn_, "e2e-lock-holder");
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  ASSERT_TRUE((*holder)->Exec("BEGIN").ok());
  ASSERT_TRUE((*holder)->Exec("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE").ok());
  const std::string waiters =
      "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";

  BackgroundProcess first;
  StartController(&first, "first.log");
  if (HasFatalFailure()) return;
  ApplySu("v1.2.0", "{limit: 5, backoff: {initial: 1s, max: 5s}}");
  std::string job;
  WaitFor(&first, "the up Job's migrator to wait on the lock", [&] {
    job = UpJobName();
    return !job.empty() && Sql1(waiters) == "1";
  });
  if (HasFatalFailure()) return;
  const std::string uid = Get("job/" + job, "{.metadata.uid}");
  first.Signal(SIGKILL);
  ASSERT_TRUE(first.Wait(30s).has_value());
  EXPECT_EQ(Get("job/" + job, "{.metadata.uid}"), uid) << "the Job outlives its controller";
  EXPECT_EQ(Sql1(waiters), "1") << "its migrator still waits";

  StartController(&proc_, "second.log");
  if (HasFatalFailure()) return;
  WaitFor(&proc_, "the restarted controller to adopt the Job", [&] {
    return ReadAll(proc_.log_path()).find("event=job.adopted job=" + ns_ + "/" + job) != std::string::npos;
  });
  if (HasFatalFailure()) return;
  EXPECT_EQ(Get("job/" + job, "{.metadata.uid}"), uid) << "adopted, not replaced";
  EXPECT_EQ(Sql1(waiters), "1") << "no second migrator queued behind the first";

  ASSERT_TRUE((*holder)->Exec("ROLLBACK").ok());
  Kubectl({"wait", "--for=condition=Ready", "su/kratos", "--timeout=300s"});
  int pods = 0;
  auto incarnations = JobIncarnations(job, &pods);
  EXPECT_EQ(incarnations, std::set<std::string>{uid}) << "exactly one Job was ever created for the up step";
  EXPECT_EQ(pods, 1) << "and one pod";
  EXPECT_EQ(Sql1("SELECT count(*) FROM schema_migration"), "7");
  EXPECT_EQ(Sql1("SELECT count(DISTINCT version) FROM schema_migration"), "7");
  EXPECT_EQ(Get("deployment/kratos", "{.spec.template.spec.containers[0].image}"), "localhost/oryd/kratos:v1.2.0");
  EXPECT_EQ(Get("su/kratos", "{.status.phase}"), "Succeeded");
  EXPECT_EQ(UpJobName(), "") << "a Job that succeeded is deleted once read";
  EXPECT_EQ(ReadAll(proc_.log_path()).find("event=job.created job=" + ns_ + "/" + job + " "), std::string::npos)
      << "the restarted controller created the up Job again";
}

}  // namespace
}  // namespace su::testing
