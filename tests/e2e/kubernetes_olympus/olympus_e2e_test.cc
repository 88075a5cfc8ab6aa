// The Olympus upgrade on Kubernetes with real containers. The API server emulator runs its podman
// kubelet (pods are podman containers of the fixture images of tests/fixtures/images: a Kratos,
// Hydra or Athena pod whose schema lacks one of its version's migrations logs "schema mismatch" and
// exits 1), PostgreSQL is real, kubectl is real and applies the example manifests a user reads
// (examples/kubernetes/olympus/), and `schema-upgrade controller --kubernetes` runs as a local
// process against the emulator.
//
//   * The upgrade: Kratos and Hydra (ory engine: migration Jobs of the target image) and Athena
//     (drizzle engine) migrate, bump and verify; `kubectl wait --for=condition=Ready su --all`
//     returns 0; the Jobs ran (seen by a watch) and are gone; the history tables hold exactly the
//     target versions' migrations; the pods run the target images and serve. Kratos has
//     policy.rehearse: its migrator first runs on a copy as Jobs reading the copy's DSN from the
//     Secret kratos-rehearsal-dsn the controller makes, and that Secret is gone afterwards.
//   * The failure the product prevents: with no SchemaUpgrade, `kubectl set image` to the new Kratos
//     makes its pod crash-loop with "schema mismatch" and the rollout never completes; after an
//     undo, the same change with a SchemaUpgrade is held (spec.paused, status.rolloutHold, Events),
//     migrated, resumed and Ready, and the new pods serve.
//
// One emulator for the suite (its containers are removed when it stops), a namespace, databases and
// a controller per case. Every wait is on a condition (kubectl wait / rollout status, or a poll with
// a deadline that only bounds a broken run); no sleeps.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "reconcilers/base/process.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/database/database.h"
#include "tests/support/bg_process.h"
#include "tests/support/cli_runner.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"
#include "tests/support/podman/local_podman.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ReadAll(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string Examples(const std::string& rel) { return SourceDir() + "/examples/kubernetes/olympus/" + rel; }
std::string Fixtures(const std::string& rel) { return SourceDir() + "/tests/fixtures/images/" + rel; }

// One service of the stack: the versions of examples/kubernetes/olympus/ and the fixture images.
struct Service {
  std::string key;          // Deployment, container, SchemaUpgrade and Secret prefix
  std::string old_version;  // what workloads/<key>.yaml runs
  std::string new_version;  // upgrades/<key>.yaml's targetVersion
  std::string repo;         // image repository
  std::string current;      // status.currentVersion at the target: the database's highest migration
  std::string dsn;          // its database (with the password: never printed)
  std::string OldImage() const { return repo + ":" + old_version; }
  std::string NewImage() const { return repo + ":" + new_version; }
};

Service Kratos() { return {"kratos", "v1.1.0", "v1.2.0", "localhost/oryd/kratos", "20240301000003000000", ""}; }
Service Hydra() { return {"hydra", "v2.2.0", "v2.3.0", "localhost/oryd/hydra", "20240410000002000000", ""}; }
Service Athena() { return {"athena", "v1.0.0", "v1.1.0", "localhost/olympus/athena", "0003_users_last_login", ""}; }

// The popx versions an ory fixture image carries: the files of <key>/migrations up to the highest
// version the image was built with (tests/fixtures/images/build.sh).
std::vector<std::string> PopxVersions(const std::string& key, const std::string& highest) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(Fixtures(key + "/migrations"))) {
    std::string name = e.path().filename().string();
    std::string v = name.substr(0, name.find('_'));
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".up.sql") == 0 && v <= highest) out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "<sha256 of the file> <when>" per journal entry of an Athena Drizzle Kit folder, in journal order:
// what drizzle-orm records in drizzle.__drizzle_migrations (hash, created_at).
std::vector<std::string> DrizzleRows(const std::string& folder) {
  std::vector<std::string> out;
  std::string when;
  for (const auto& line : Lines(ReadAll(folder + "/meta/_journal.json"))) {
    auto value = [&](const char* key) -> std::string {
      auto at = line.find(std::string("\"") + key + "\"");
      if (at == std::string::npos) return "";
      std::string v = line.substr(line.find(':', at) + 1);
      v.erase(std::remove_if(v.begin(), v.end(), [](char c) { return c == '"' || c == ',' || c == ' '; }), v.end());
      return v;
    };
    if (auto w = value("when"); !w.empty()) when = w;
    if (auto tag = value("tag"); !tag.empty()) {
      out.push_back(Sha256Hex(ReadAll(folder + "/" + tag + ".sql")) + " " + when);
    }
  }
  return out;
}

Result<ProcessResult> RunArgv(std::vector<std::string> argv, std::chrono::seconds timeout = 120s) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = timeout;
  return PosixProcessRunner()->Run(spec);
}

class OlympusE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto built = RunArgv({Fixtures("build.sh"), "localhost/oryd/kratos:v1.1.0", "localhost/oryd/kratos:v1.2.0",
                      "localhost/oryd/hydra:v2.2.0", "localhost/oryd/hydra:v2.3.0", "localhost/olympus/athena:v1.0.0",
                      "localhost/olympus/athena:v1.1.0"},
                     600s);
    ASSERT_TRUE(built.ok() && built->Succeeded())
        << "tests/fixtures/images/build.sh: " << (built.ok() ? built->Tail() : built.status().ToString());
    // Crash-looping pods restart after 0.3 s, 0.6 s, 1.2 s ... (at most 4.8 s): the kubelet's 10 s..5 min.
    emu_ = new KubeEmulator({"--kubelet", "podman", "--crash-backoff", "0.3"});
    emu_->Start();
    if (::testing::Test::HasFatalFailure()) return;
    emu_->Kubectl({"apply", "-k", SourceDir() + "/crds"});
    emu_->Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
    auto image = BuildControllerImage();
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    controller_image_ = *image;
  }
  static void TearDownTestSuite() {
    delete emu_;  // SIGTERM: the emulator removes exactly the containers it started
    emu_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(emu_, nullptr);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    ns_ = std::string(info->name()).substr(0, 20);
    std::transform(ns_.begin(), ns_.end(), ns_.begin(), [](unsigned char c) { return std::tolower(c); });
    Kubectl({"create", "namespace", ns_});
  }

  void TearDown() override {
    for (auto* w : {&job_watch_, &su_watch_, &deploy_watch_}) {
      if (w->running()) w->Signal(SIGTERM), (void)w->Wait(10s);
    }
    if (HasFailure()) {
      auto r = RunArgv({"kubectl", "--kubeconfig", emu_->Kubeconfig(), "-n", ns_, "get",
                    "deployments,replicasets,pods,jobs,schemaupgrades,events", "-o", "wide"});
      std::cerr << "--- the namespace " << ns_ << " at the failure:\n" << (r.ok() ? r->out + r->err : "") << "\n";
      if (controller_.running() || !controller_.log_path().empty()) {
        std::cerr << "--- controller log (tail):\n" << controller_.LogTail(8000) << "\n";
      }
    }
    StopController();
    // Its pods (so their containers) go with the namespace.
    (void)RunArgv({"kubectl", "--kubeconfig", emu_->Kubeconfig(), "delete", "namespace", ns_, "--wait=false"});
  }

  // kubectl -n <ns> args...: stdout; fails the test on a non-zero exit.
  std::string Kubectl(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", ns_});
    return emu_->Kubectl(args);
  }
  // The same, for commands expected to fail: the whole result.
  ProcessResult KubectlMayFail(std::vector<std::string> args) {
    args.insert(args.begin(), {"kubectl", "--kubeconfig", emu_->Kubeconfig(), "-n", ns_});
    auto r = RunArgv(args);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ProcessResult{};
  }
  std::string Get(const std::string& what, const std::string& jsonpath) {
    return Kubectl({"get", what, "-o", "jsonpath=" + jsonpath});
  }

  // A database per service, migrated to the version its Deployment runs today by `schema-upgrade
  // apply` in the Podman mode (workload-less manifests: the ory engine runs the old image's migrator
  // with podman, the drizzle engine applies the old folder), and the Secret <key>-db holding its DSN
  // (created from a 0600 file, as the example's README says: the DSN never in an argv).
  void Bootstrap(std::vector<Service*> services) {
    std::vector<std::map<std::string, std::string>> envs;
    for (Service* s : services) {
      s->dsn = pg_.CreateDatabase(s->key);
      const std::string var = "BOOT_" + s->key;
      envs.push_back({{"SU_LOG_LEVEL", "warn"}, {var, s->dsn}});
      std::ostringstream m;
      m << "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: " << s->key
        << "\n  namespace: boot-" << getpid() << "-" << ns_ << "\nspec:\n  targetVersion: " << s->old_version
        << "\n  database:\n    dsnFrom:\n      env: " << var << "\n  migrations:\n";
      if (s->key == "athena") {
        m << "    engine: drizzle\n    path: " << Fixtures("athena/" + s->old_version) << "\n";
      } else {
        m << "    engine: ory\n  image: " << s->OldImage() << "\n";
      }
      work_.Write("bootstrap/" + s->key + "/" + s->key + ".yaml", m.str());
      std::string dsn_file = work_.Write("secrets/" + s->key + "-dsn", s->dsn);
      fs::permissions(dsn_file, fs::perms::owner_read | fs::perms::owner_write);
      Kubectl({"create", "secret", "generic", s->key + "-db", "--from-file=dsn=" + dsn_file});
    }
    // One `apply` per service, side by side (each runs its own migrator containers).
    std::vector<CliResult> results(services.size());
    std::vector<std::thread> runs;
    for (size_t i = 0; i < services.size(); ++i) {
      runs.emplace_back([&, i] {
        const std::string dir = work_.Path("bootstrap/" + services[i]->key);
        results[i] = RunCli({"apply", "-q", "-f", dir, "--state-dir", dir + "-state"}, envs[i]);
      });
    }
    for (auto& t : runs) t.join();
    for (size_t i = 0; i < services.size(); ++i) {
      EXPECT_EQ(results[i].exit_code, 0) << "bootstrap apply of " << services[i]->key << ":\n"
                                         << results[i].out << results[i].err;
    }
    ASSERT_FALSE(HasFailure());
  }

  // The controller as an operator runs it, scoped to this case's namespace, with a short TTL for
  // finished migration Jobs and its own image (built locally from the binary under test) for the
  // Job that reads Athena's migrations out of its image (migrations.source: image).
  void StartController() {
    std::vector<std::string> argv = {CliBinary(), "controller", "--kubernetes",
                                     "--kubeconfig", emu_->Kubeconfig(), "--namespace", ns_,
                                     "--controller-image", controller_image_,
                                     "--state-dir", work_.Path("state"), "--resync", "2m",
                                     "--migration-job-ttl", "5s", "--kube-api-qps", "50", "--kube-api-burst", "100"};
    ASSERT_TRUE(controller_.Start(argv, {{"KUBECONFIG", kUnsetEnv}, {"SU_LOG_LEVEL", "info"}},
                                  work_.Path("controller.log")));
  }

  void StopController() {
    if (!controller_.running()) return;
    controller_.Signal(SIGTERM);
    auto end = controller_.Wait(60s);
    ASSERT_TRUE(end.has_value()) << "controller did not stop on SIGTERM\n" << controller_.LogTail();
    EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe() << "\n" << controller_.LogTail();
  }

  // `kubectl get <what> -w -o jsonpath=...` in the background: one line per change, read at the end.
  void Watch(BackgroundProcess* p, const std::string& name, const std::vector<std::string>& what,
             const std::string& jsonpath) {
    std::vector<std::string> argv = {"kubectl", "--kubeconfig", emu_->Kubeconfig(), "-n", ns_, "get"};
    argv.insert(argv.end(), what.begin(), what.end());
    argv.insert(argv.end(), {"-w", "-o", "jsonpath=" + jsonpath});
    ASSERT_TRUE(p->Start(argv, {}, work_.Path(name + ".watch")));
  }
  std::vector<std::string> WatchLines(BackgroundProcess* p) {
    if (p->running()) p->Signal(SIGTERM), (void)p->Wait(10s);
    return Lines(ReadAll(p->log_path()));
  }

  // Polls until pred() holds; the bound only ends a broken run.
  void WaitFor(const std::string& what, const std::function<bool()>& pred, std::chrono::seconds bound = 240s) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (!pred()) {
      if (controller_.running()) {
        ASSERT_FALSE(controller_.Poll().has_value()) << "controller exited\n" << controller_.LogTail();
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out waiting for " << what;
      std::this_thread::sleep_for(200ms);  // the poll's interval, not a wait for time to pass
    }
  }

  std::vector<std::string> Column(const Service& s, const std::string& sql) {
    auto db = ConnectPostgres(s.dsn, "olympus-e2e");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return {};
    auto r = (*db)->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    std::vector<std::string> out;
    if (r.ok()) {
      for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(r->Get(i, 0));
    }
    return out;
  }
  std::vector<std::string> PopxRows(const Service& s) {
    return Column(s, "SELECT version FROM schema_migration ORDER BY version");
  }

  // Pods of a Deployment: "<name> <image> <ready>" lines.
  std::vector<std::string> Pods(const std::string& key) {
    return Lines(Get("pods", "{range .items[?(@.metadata.labels.app\\.kubernetes\\.io/name==\"" + key +
                                 "\")]}{.metadata.name} {.spec.containers[0].image} "
                                 "{.status.containerStatuses[0].ready}{\"\\n\"}{end}"));
  }
  // Every pod of the Deployment runs image, is ready, and says it serves.
  void ExpectServing(const std::string& key, const std::string& image) {
    auto pods = Pods(key);
    ASSERT_FALSE(pods.empty()) << key;
    for (const auto& p : pods) {
      std::istringstream in(p);
      std::string name, img, ready;
      in >> name >> img >> ready;
      EXPECT_EQ(img, image) << p;
      EXPECT_EQ(ready, "true") << p;
      std::string logs = Kubectl({"logs", name});
      EXPECT_NE(logs.find("serving"), std::string::npos) << name << ":\n" << logs;
      EXPECT_EQ(logs.find("schema mismatch"), std::string::npos) << name << ":\n" << logs;
    }
  }

  // Reasons of the Events about one object.
  std::vector<std::string> EventReasons(const std::string& kind, const std::string& name) {
    return Lines(Kubectl({"get", "events", "--field-selector", "involvedObject.kind=" + kind + ",involvedObject.name=" + name,
                          "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}"}));
  }

  static KubeEmulator* emu_;
  static std::string controller_image_;
  PgServer& pg_ = PgServer::Shared();
  TempDir work_;
  std::string ns_;
  BackgroundProcess controller_;
  BackgroundProcess job_watch_, su_watch_, deploy_watch_;
};

KubeEmulator* OlympusE2E::emu_ = nullptr;
std::string OlympusE2E::controller_image_;

TEST_F(OlympusE2E, KratosHydraAndAthenaUpgradeWithKubectlApply) {
  Service kratos = Kratos(), hydra = Hydra(), athena = Athena();
  Bootstrap({&kratos, &hydra, &athena});
  if (HasFatalFailure()) return;
  // The stack as it runs today: the old versions serve on the old schemas.
  Kubectl({"apply", "-f", Examples("workloads/")});
  for (const Service* s : {&kratos, &hydra, &athena}) {
    Kubectl({"rollout", "status", "deployment/" + s->key, "--timeout=300s"});
  }
  for (const Service* s : {&kratos, &hydra, &athena}) ExpectServing(s->key, s->OldImage());
  if (HasFailure()) return;

  StartController();
  if (HasFatalFailure()) return;
  Watch(&job_watch_, "jobs", {"jobs"},
        "{.metadata.name} {.spec.ttlSecondsAfterFinished} {.spec.template.spec.initContainers[0].image}>"
        "{.spec.template.spec.containers[0].image} "
        "{.spec.template.spec.securityContext.runAsUser} "
        "{.spec.template.spec.containers[0].env[?(@.name==\"DSN\")].valueFrom.secretKeyRef.name} "
        "{.status.succeeded}{\"\\n\"}");
  if (HasFatalFailure()) return;
  // Kratos as the example has it, plus policy.rehearse: its migrator first runs on a copy as Jobs
  // reading the copy's DSN from a Secret the controller makes for it and deletes afterwards.
  std::string kratos_su = ReadAll(Examples("upgrades/kratos.yaml"));
  ASSERT_NE(kratos_su.find("  policy:\n"), std::string::npos);
  kratos_su.replace(kratos_su.find("  policy:\n"), 10, "  policy:\n    rehearse: true\n");
  Kubectl({"apply", "-f", work_.Write("kratos-rehearsed.yaml", kratos_su), "-f", Examples("upgrades/hydra.yaml"), "-f",
           Examples("upgrades/athena.yaml")});
  Kubectl({"wait", "--for=condition=Ready", "su", "--all", "--timeout=400s"});
  EXPECT_NE(Get("su/kratos", "{.status.rehearsal}").find("rehearsal ok on a copy"), std::string::npos)
      << Get("su/kratos", "{.status.rehearsal}");
  EXPECT_EQ(Get("secrets", "{.items[*].metadata.name}").find("rehearsal"), std::string::npos)
      << "the copy's Secret outlived the rehearsal";

  // Each migrated, bumped and verified.
  for (const Service* s : {&kratos, &hydra, &athena}) {
    SCOPED_TRACE(s->key);
    EXPECT_EQ(Get("su/" + s->key, "{.status.phase} {.status.currentVersion} {.status.previousImage}"),
              "Succeeded " + s->current + " " + s->OldImage());
    EXPECT_EQ(Get("deployment/" + s->key, "{.spec.template.spec.containers[0].image}"), s->NewImage());
    EXPECT_EQ(Get("deployment/" + s->key, "{.status.updatedReplicas}/{.status.availableReplicas}"), "1/1");
    ExpectServing(s->key, s->NewImage());
    auto reasons = EventReasons("SchemaUpgrade", s->key);
    EXPECT_NE(std::find(reasons.begin(), reasons.end(), "Migrated"), reasons.end()) << Join(reasons);
    EXPECT_NE(std::find(reasons.begin(), reasons.end(), "Bumped"), reasons.end()) << Join(reasons);
  }
  // The history tables hold exactly the target versions' migrations.
  EXPECT_EQ(PopxRows(kratos), PopxVersions("kratos", kratos.current));
  EXPECT_EQ(PopxRows(hydra), PopxVersions("hydra", hydra.current));
  EXPECT_EQ(PopxRows(kratos).size(), 7u);
  EXPECT_EQ(PopxRows(hydra).size(), 5u);
  EXPECT_EQ(Column(athena, "SELECT hash || ' ' || created_at FROM drizzle.__drizzle_migrations ORDER BY id"),
            DrizzleRows(Fixtures("athena/v1.1.0")));
  EXPECT_EQ(DrizzleRows(Fixtures("athena/v1.1.0")).size(), 4u);

  // The migrators ran as Jobs of the target images, inheriting the workload's pod security context,
  // with the short TTL; Athena's folder was read by a Job of its target image (init container) and
  // the controller's image. Once the controller stopped (a converged ory resource still runs its status
  // command as a Job on a resync), none is left: a succeeded Job is deleted as soon as the
  // controller read it, one finishing after the controller stopped by its TTL; their pods with them.
  StopController();
  WaitFor("the migration Jobs to be gone", [&] {
    return Get("jobs", "{.items[*].metadata.name}").empty() &&
           Get("pods", "{.items[?(@.metadata.labels.job-name)].metadata.name}").empty();
  });
  std::map<std::string, std::string> jobs;  // name -> its last watched line
  for (const auto& l : WatchLines(&job_watch_)) jobs[l.substr(0, l.find(' '))] = l;
  int kratos_jobs = 0, hydra_jobs = 0, athena_jobs = 0, kratos_rehearsal_jobs = 0;
  for (const auto& [name, line] : jobs) {
    SCOPED_TRACE(line);
    bool k = name.rfind("su-kratos-", 0) == 0, h = name.rfind("su-hydra-", 0) == 0;
    bool a = name.rfind("su-athena-", 0) == 0;
    EXPECT_TRUE(k || h || a);
    kratos_jobs += k;
    hydra_jobs += h;
    athena_jobs += a;
    if (a) {
      // The folder read: no DSN at all.
      EXPECT_NE(line.find(" 5 " + athena.NewImage() + ">" + controller_image_ + " "), std::string::npos);
      EXPECT_EQ(line.find("athena-db"), std::string::npos);
    } else if (k && line.find(" kratos-rehearsal-dsn ") != std::string::npos) {
      // The rehearsal's migrators: the copy's DSN from the controller's Secret, never kratos-db.
      ++kratos_rehearsal_jobs;
      EXPECT_NE(line.find(" 5 >" + kratos.NewImage() + " 65534 kratos-rehearsal-dsn "), std::string::npos);
    } else {
      // TTL 5 s, the target image, the Deployment's runAsUser, the DSN from the workload's Secret.
      EXPECT_NE(line.find(" 5 >" + (k ? kratos.NewImage() + " 65534 kratos-db " : hydra.NewImage() + " 65534 hydra-db ")),
                std::string::npos);
    }
    EXPECT_EQ(line.substr(line.rfind(' ') + 1), "1") << "every Job succeeded";
  }
  // migrate sql status, migrate sql up, and status again after it (Kratos: on the copy too).
  EXPECT_GE(kratos_rehearsal_jobs, 2) << "status and up on the copy";
  EXPECT_GE(kratos_jobs - kratos_rehearsal_jobs, 2);
  EXPECT_GE(hydra_jobs, 2);
  EXPECT_EQ(athena_jobs, 1) << "the folder is read once per target image";

  // The DSN's password is in no Event, status or controller log line.
  std::string all = Kubectl({"get", "events,schemaupgrades", "-o", "json"}) + ReadAll(controller_.log_path());
  EXPECT_EQ(all.find(pg_.password()), std::string::npos);
}

TEST_F(OlympusE2E, AKratosImageAheadOfItsSchemaFailsWithoutTheOperatorAndIsHeldWithIt) {
  Service kratos = Kratos();
  Bootstrap({&kratos});
  if (HasFatalFailure()) return;
  Kubectl({"apply", "-f", Examples("workloads/kratos.yaml")});
  Kubectl({"rollout", "status", "deployment/kratos", "--timeout=300s"});
  ExpectServing("kratos", kratos.OldImage());
  if (HasFailure()) return;
  const std::string old_pod = Lines(Get("pods", "{.items[*].metadata.name}")).at(0);

  // Without a SchemaUpgrade: the new image against the old schema.
  Kubectl({"set", "image", "deployment/kratos", "kratos=" + kratos.NewImage()});
  std::string new_pod;
  WaitFor("a v1.2.0 pod to crash-loop twice", [&] {
    for (const auto& l : Lines(Get("pods", "{range .items[*]}{.metadata.name} {.spec.containers[0].image} "
                                           "{.status.containerStatuses[0].restartCount}{\"\\n\"}{end}"))) {
      std::istringstream in(l);
      std::string name, image;
      int restarts = 0;
      in >> name >> image >> restarts;
      if (image == kratos.NewImage() && restarts >= 2) {
        new_pod = name;
        return true;
      }
    }
    return false;
  });
  if (HasFatalFailure()) return;
  std::string logs = Kubectl({"logs", new_pod, "--previous"});
  EXPECT_NE(logs.find("schema mismatch"), std::string::npos) << logs;
  EXPECT_NE(logs.find("run kratos migrate sql up"), std::string::npos) << logs;
  EXPECT_EQ(Get("pod/" + new_pod, "{.status.containerStatuses[0].lastState.terminated.exitCode}"), "1");
  // The rollout does not complete: one updated replica, never available; the old pod still serves.
  EXPECT_EQ(Get("deployment/kratos", "{.status.replicas} {.status.updatedReplicas} {.status.availableReplicas}"), "2 1 1");
  EXPECT_NE(Get("deployment/kratos", "{.status.conditions[?(@.type==\"Progressing\")].reason}"), "NewReplicaSetAvailable");
  auto status = KubectlMayFail({"rollout", "status", "deployment/kratos", "--timeout=5s"});
  EXPECT_NE(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find("1 old replicas are pending termination"), std::string::npos) << status.out << status.err;
  EXPECT_EQ(Get("pod/" + old_pod, "{.spec.containers[0].image} {.status.containerStatuses[0].ready}"),
            kratos.OldImage() + " true");
  EXPECT_EQ(PopxRows(kratos).size(), 4u) << "nothing migrated the database";

  // Back to v1.1.0: the rollout of the old template completes, the crash-looping pod is gone.
  Kubectl({"rollout", "undo", "deployment/kratos"});
  Kubectl({"rollout", "status", "deployment/kratos", "--timeout=300s"});
  ExpectServing("kratos", kratos.OldImage());

  // With the operator: the same change, as a GitOps sync brings it (the image first, then the
  // SchemaUpgrade). The controller finds the image already at its target while three migrations are
  // pending: it holds the rollout (spec.paused), migrates in a Job, resumes, verifies.
  StartController();
  if (HasFatalFailure()) return;
  // (The SchemaUpgrade does not exist yet: watch the kind, one line per change of any of them.)
  Watch(&su_watch_, "su", {"su"}, "{.metadata.name} {.status.phase} hold={.status.rolloutHold}{\"\\n\"}");
  Watch(&deploy_watch_, "deploy", {"deployment/kratos"},
        "paused={.spec.paused} {.status.conditions[?(@.type==\"Progressing\")].reason}{\"\\n\"}");
  if (HasFatalFailure()) return;
  Kubectl({"set", "image", "deployment/kratos", "kratos=" + kratos.NewImage()});
  Kubectl({"apply", "-f", Examples("upgrades/kratos.yaml")});
  Kubectl({"wait", "--for=condition=Ready", "su/kratos", "--timeout=400s"});

  EXPECT_EQ(PopxRows(kratos), PopxVersions("kratos", kratos.current));
  EXPECT_EQ(Get("su/kratos", "{.status.phase} {.status.currentVersion} hold={.status.rolloutHold}"),
            "Succeeded " + kratos.current + " hold=");
  EXPECT_EQ(Get("su/kratos", "{.status.previousImage}"), "") << "the controller bumped nothing: it held and resumed";
  EXPECT_NE(Get("deployment/kratos", "{.spec.paused}"), "true");
  Kubectl({"rollout", "status", "deployment/kratos", "--timeout=60s"});
  ExpectServing("kratos", kratos.NewImage());

  // The hold as it happened: status.rolloutHold recorded, the Deployment paused, then given back.
  std::vector<std::string> su_lines;
  for (const auto& l : WatchLines(&su_watch_)) {
    if (l.rfind("kratos ", 0) == 0) su_lines.push_back(l.substr(7));
  }
  auto held = std::find_if(su_lines.begin(), su_lines.end(),
                           [](const std::string& l) { return l.find(" hold=paused=false") != std::string::npos; });
  EXPECT_NE(held, su_lines.end()) << "status.rolloutHold was never recorded: " << Join(su_lines);
  ASSERT_FALSE(su_lines.empty());
  EXPECT_EQ(su_lines.back(), "Succeeded hold=") << Join(su_lines);
  auto deploy_lines = WatchLines(&deploy_watch_);
  auto paused = std::find(deploy_lines.begin(), deploy_lines.end(), "paused=true DeploymentPaused");
  EXPECT_NE(paused, deploy_lines.end()) << Join(deploy_lines);
  EXPECT_NE(std::find_if(paused, deploy_lines.end(),
                         [](const std::string& l) {
                           return l.rfind("paused=true", 0) != 0 && l.find(" NewReplicaSetAvailable") != std::string::npos;
                         }),
            deploy_lines.end())
      << "resumed and completed after the hold: " << Join(deploy_lines);
  auto reasons = EventReasons("SchemaUpgrade", "kratos");
  for (const char* want : {"RolloutHeld", "Migrated", "RolloutResumed"}) {
    EXPECT_NE(std::find(reasons.begin(), reasons.end(), want), reasons.end()) << want << " in " << Join(reasons);
  }
  EXPECT_EQ(std::find(reasons.begin(), reasons.end(), "Bumped"), reasons.end()) << Join(reasons);
}

}  // namespace
}  // namespace su::testing
