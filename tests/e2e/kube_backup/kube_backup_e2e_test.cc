// `controller --kubernetes` with policy.backup.pvc, end to end: the emulator's podman kubelet runs
// the backup and restore Jobs as real containers of a stand-in controller image
// (tests/fixtures/backup_image/build.sh), PostgreSQL is real, so is kubectl. A failing migration
// with onFailure restoreBackup: the backup is on the claim (status and history name it as
// pvc://...), the restore Job undoes the first migration. A backup policy without a claim is
// refused (Stalled, InvalidSpec naming spec.policy.backup.pvc) before anything changes.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "tests/support/bg_process.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kImage = "localhost/su-test/pvc-backup-controller:latest";

std::string Env(const char* n, const char* fallback) {
  const char* v = getenv(n);
  return v && *v ? v : fallback;
}

ProcessResult Sh(std::vector<std::string> argv) {
  ProcessSpec p;
  p.argv = std::move(argv);
  p.timeout = std::chrono::seconds(600);
  auto r = PosixProcessRunner()->Run(p);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ProcessResult{};
}

class KubeBackupE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto built = Sh({Env("SU_SOURCE_DIR", ".") + std::string("/tests/fixtures/backup_image/build.sh"),
                      Env("SU_BINARY", "schema-upgrade"), kImage});
    ASSERT_EQ(built.exit_code, 0) << built.Tail(30);
    dsn_ = pg_.CreateDatabase("pvce2e");
    auto db = ConnectPostgres(dsn_, "e2e-setup");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->ExecScript("CREATE TABLE customers (id int PRIMARY KEY, name text);"
                                  "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 10) g;").ok());
    fs::create_directories(work_.Path("m"));
    std::ofstream(work_.Path("m/20240101000001_trail.up.sql")) << "CREATE TABLE audit_trail (id int);\n";
    std::ofstream(work_.Path("m/20240101000002_broken.up.sql")) << "ALTER TABLE no_such_table ADD COLUMN x int;\n";
    emu_.Start();
    if (HasFatalFailure()) return;
    emu_.Kubectl({"apply", "-k", Env("SU_SOURCE_DIR", ".") + std::string("/crds")});
    emu_.Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
    emu_.Kubectl({"create", "secret", "generic", "shop-db", "--from-literal=dsn=" + dsn_});
    std::ofstream(work_.Path("pvc.yaml")) << "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: db-backups}\n"
                                             "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n";
    emu_.Kubectl({"apply", "-f", work_.Path("pvc.yaml")});
  }
  void TearDown() override {
    if (!proc_.running()) return;
    proc_.Signal(SIGTERM);
    auto end = proc_.Wait(60s);
    EXPECT_TRUE(end.has_value()) << "controller did not stop on SIGTERM\n" << proc_.LogTail();
  }

  void StartController() {
    std::vector<std::string> argv = {Env("SU_BINARY", "schema-upgrade"), "controller", "--kubernetes",
                                     "--kubeconfig", emu_.Kubeconfig(), "--namespace", "default",
                                     "--state-dir", work_.Path("state"), "--resync", "20s",
                                     "--kube-api-qps", "50", "--kube-api-burst", "100"};
    // The image from the environment variable, as the Deployment would set it.
    ASSERT_TRUE(proc_.Start(argv, {{"SU_CONTROLLER_IMAGE", kImage}, {"KUBECONFIG", kUnsetEnv}},
                            work_.Path("controller.log")));
  }
  void ApplySu(const std::string& name, const std::string& backup) {
    std::string path = work_.Path(name + "-su.yaml");
    std::ofstream(path) << "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: " << name
                        << "\n  namespace: default\nspec:\n  service: " << name
                        << "\n  targetVersion: v2\n  database:\n    dsnFrom:\n      secretKeyRef: {name: shop-db, key: dsn}\n"
                        << "  migrations:\n    engine: sql\n    path: " << work_.Path("m") << "\n  policy:\n    lockTimeout: 5s\n"
                        << "    retries:\n      limit: 50\n      backoff: {initial: 1s, max: 2s}\n"
                        << "    backup: " << backup << "\n    onFailure: restoreBackup\n";
    emu_.Kubectl({"apply", "-f", path});
  }
  std::string Get(const std::string& what, const std::string& jsonpath) {
    return emu_.Kubectl({"get", what, "-o", "jsonpath=" + jsonpath});
  }
  bool TableExists(const std::string& table) {
    auto db = ConnectPostgres(dsn_, "e2e");
    if (!db.ok()) return false;
    auto r = (*db)->Query("SELECT to_regclass($1) IS NOT NULL", {table});
    return r.ok() && r->Get(0, 0) == "t";
  }

  PgServer& pg_ = PgServer::Shared();
  TempDir work_;
  KubeEmulator emu_{{"--kubelet", "podman"}};
  BackgroundProcess proc_;
  std::string dsn_;
};

TEST_F(KubeBackupE2E, FailedMigrationIsUndoneFromTheBackupOnTheClaim) {
  StartController();
  if (HasFatalFailure()) return;
  ApplySu("shop", "{enabled: true, pvc: {claimName: db-backups, subPath: shop}}");
  emu_.Kubectl({"wait", "--for=condition=Stalled", "su/shop", "--timeout=300s"});
  EXPECT_EQ(Get("su/shop", "{.status.phase}"), "Failed") << proc_.LogTail();
  const std::string path = Get("su/shop", "{.status.backup.path}");
  ASSERT_EQ(path.rfind("pvc://db-backups/shop/default_shop_", 0), 0u) << path;
  std::string action = Get("su/shop", "{.status.failureAction}");
  EXPECT_NE(action.find("restoreBackup: database restored from " + path), std::string::npos) << action;

  // The restore Job undid the first migration; the data from before is there.
  EXPECT_FALSE(TableExists("audit_trail")) << "the first migration's table survived the restore";
  auto db = ConnectPostgres(dsn_, "e2e");
  ASSERT_TRUE(db.ok());
  auto n = (*db)->Query("SELECT count(*) FROM customers");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->Get(0, 0), "10");

  // The dump is on the claim's folder, a valid custom-format dump of the database before.
  const std::string host = emu_.dir() + "/claims/default/db-backups/" + path.substr(std::string("pvc://db-backups/").size());
  ASSERT_TRUE(fs::exists(host)) << host;
  auto listed = Sh({PgServer::BinDir() + "/pg_restore", "-l", host});
  ASSERT_EQ(listed.exit_code, 0) << listed.Tail();
  EXPECT_NE(listed.out.find("TABLE public customers"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("audit_trail"), std::string::npos) << "taken before migrating";

  // The audit log (what `schema-upgrade history` prints) and the Events name the file as the
  // status does (the backup row itself went back with the restore; the restore row names it).
  auto rows = (*db)->Query("SELECT string_agg(direction || ' ' || status || ' ' || detail, E'\\n' ORDER BY id) "
                           "FROM public.schema_upgrade_log");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_NE(rows->Get(0, 0).find("restore succeeded " + path), std::string::npos) << rows->Get(0, 0);
  std::string events = emu_.Kubectl({"get", "events", "-n", "default"});
  EXPECT_NE(events.find("BackupRestored"), std::string::npos) << events;
  EXPECT_EQ(events.find(pg_.password()), std::string::npos);
  EXPECT_EQ(Get("su/shop", "{.status}").find(pg_.password()), std::string::npos);
}

TEST_F(KubeBackupE2E, BackupPolicyWithoutAClaimIsRefusedBeforeAnyChange) {
  StartController();
  if (HasFatalFailure()) return;
  ApplySu("noclaim", "{enabled: true}");
  emu_.Kubectl({"wait", "--for=condition=Stalled", "su/noclaim", "--timeout=120s"});
  std::string msg = Get("su/noclaim", "{.status.conditions[?(@.type==\"Stalled\")].message}");
  EXPECT_NE(msg.find("spec.policy.backup.pvc"), std::string::npos) << msg;
  EXPECT_EQ(Get("su/noclaim", "{.status.conditions[?(@.type==\"Stalled\")].reason}"), "InvalidSpec");
  EXPECT_FALSE(TableExists("audit_trail"));
  EXPECT_FALSE(TableExists("schema_migration")) << "nothing may change before the refusal";
}

}  // namespace
}  // namespace su::testing
