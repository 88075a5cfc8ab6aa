// Backups on Kubernetes for real: the backup tool of `controller --kubernetes` (controller/cli/
// kube_backup.h) against the API server emulator with its podman kubelet (real containers), a
// real PostgreSQL and a stand-in for the controller's image (tests/fixtures/backup_image/build.sh:
// the schema-upgrade binary with pg_dump/pg_restore/psql). The dump Job really runs pg_dump -Fc
// onto the claim's folder (<emulator dir>/claims/<ns>/<claim>): the file is there, private, a
// valid custom-format dump (`pg_restore -l`); a restore Job brings a dropped table back; the Job
// objects carry the DSN only as a Secret reference.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cpprest/json.h>

#include <cstdlib>

#include "controller/cli/kube_backup.h"
#include "kube/api.h"
#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"

namespace su {
namespace {

using web::json::value;

const kube::GroupVersionResource kSecretsRes{"", "v1", "secrets", true};
const kube::GroupVersionResource kClaimsRes{"", "v1", "persistentvolumeclaims", true};
// Unique to this test, so no other test's image is replaced.
constexpr const char* kImage = "localhost/su-test/pvc-backup-controller:latest";

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

ProcessResult Sh(std::vector<std::string> argv, std::chrono::seconds timeout = std::chrono::seconds(600)) {
  ProcessSpec p;
  p.argv = std::move(argv);
  p.timeout = timeout;
  auto r = PosixProcessRunner()->Run(p);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ProcessResult{};
}

std::string Base64(const std::string& s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8) |
                 static_cast<unsigned char>(s[i + 2]);
    out += {t[n >> 18], t[(n >> 12) & 63], t[(n >> 6) & 63], t[n & 63]};
  }
  if (i + 1 == s.size()) {
    unsigned n = static_cast<unsigned char>(s[i]) << 16;
    out += {t[n >> 18], t[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    unsigned n = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    out += {t[n >> 18], t[(n >> 12) & 63], t[(n >> 6) & 63], '='};
  }
  return out;
}

TEST(KubeBackupTest, DumpJobWritesToTheClaimAndRestoreJobBringsADroppedTableBack) {
  const std::string binary = Env("SU_BINARY", "");
  ASSERT_FALSE(binary.empty()) << "SU_BINARY is not set (run through ctest)";
  auto built = Sh({Env("SU_SOURCE_DIR", ".") + "/tests/fixtures/backup_image/build.sh", binary, kImage});
  ASSERT_EQ(built.exit_code, 0) << built.Tail(30);

  su::testing::PgServer& pg = su::testing::PgServer::Shared();
  const std::string dsn = pg.CreateDatabase("pvcbackup");
  auto db = ConnectPostgres(dsn, "kube-backup-test");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->ExecScript("CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL);"
                                "INSERT INTO orders (item) SELECT 'item ' || g FROM generate_series(1, 50) g;").ok());

  su::testing::KubeEmulator emu({"--kubelet", "podman"});
  emu.Start();
  auto api = emu.Client();
  ASSERT_TRUE(api);
  auto secret = api->Create(kube::ResourcePath{kSecretsRes, "default"},
                            R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"shop-db"},"data":{"dsn":")" +
                                Base64(dsn) + "\"}}");
  ASSERT_TRUE(secret.ok()) << secret.error().Describe();
  auto claim = api->Create(kube::ResourcePath{kClaimsRes, "default"},
                           R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"db-backups"},)"
                           R"("spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})");
  ASSERT_TRUE(claim.ok()) << claim.error().Describe();

  SchemaUpgrade su;
  su.name = "shop";
  su.namespace_ = "default";
  su.dsn.kind = DsnSource::Kind::kSecretKeyRef;
  su.dsn.secret_name = "shop-db";
  su.dsn.secret_key = "dsn";
  su.policy.backup_enabled = true;
  su.policy.backup_pvc_claim = "db-backups";
  su.policy.backup_pvc_sub_path = "nightly/shop";
  KubeBackupSettings s;
  s.api = api.get();
  s.image = kImage;
  s.poll_interval = std::chrono::milliseconds(200);
  auto tool = KubeBackupFactory(s)(su);
  ASSERT_TRUE(tool.ok()) << tool.status().ToString();
  const std::string folder = (*tool)->RemoteFolder();
  ASSERT_EQ(folder, "pvc://db-backups/nightly/shop");
  const std::string path = folder + "/default_shop_0123abcd_2026-12-02T01-00-00Z.dump";

  auto b = (*tool)->Backup(dsn, path);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->path, path);
  EXPECT_GT(b->size_bytes, 0);

  // On the claim's folder: the file the Job wrote, private, a valid custom-format dump.
  const std::string host = emu.dir() + "/claims/default/db-backups/nightly/shop/default_shop_0123abcd_2026-12-02T01-00-00Z.dump";
  struct stat st {};
  ASSERT_EQ(stat(host.c_str(), &st), 0) << host << " is not on the claim";
  EXPECT_EQ(st.st_size, b->size_bytes);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // fsGroup 65532 made the claim writable for the image's non-root user, as a kubelet does.
  struct stat claim_st {};
  ASSERT_EQ(stat((emu.dir() + "/claims/default/db-backups").c_str(), &claim_st), 0);
  EXPECT_EQ(claim_st.st_gid, 65532u);
  EXPECT_EQ(claim_st.st_mode & 02070, 02070u);
  auto listed = Sh({su::testing::PgServer::BinDir() + "/pg_restore", "-l", host});
  ASSERT_EQ(listed.exit_code, 0) << listed.Tail();
  EXPECT_NE(listed.out.find("TABLE public orders"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("TABLE DATA public orders"), std::string::npos) << listed.out;

  // A finished dump Job is deleted (nothing to read); none carried the DSN.
  kube::ListOptions lo;
  lo.label_selector = std::string(kJobResourceLabel) + "=shop";
  auto jobs = api->List(kube::ResourcePath{kJobs, "default"}, lo);
  ASSERT_TRUE(jobs.ok()) << jobs.error().Describe();
  EXPECT_TRUE(jobs->items.empty());

  // The table is dropped; the restore Job mounts the claim and brings it back, rows and all.
  ASSERT_TRUE((*db)->ExecScript("DROP TABLE orders;").ok());
  (*db).reset();  // the restore takes ACCESS EXCLUSIVE locks; no session of ours in the way
  RestoreOptions ro;
  ro.lock_timeout = std::chrono::milliseconds(10000);
  ro.application_name = "schema-upgrade-restore-test";
  auto r = (*tool)->Restore(dsn, path, ro);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->restored);
  auto again = ConnectPostgres(dsn, "kube-backup-test");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto count = (*again)->Query("SELECT count(*), max(item) FROM orders");
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(count->Get(0, 0), "50");

  // A restore from a file that is not on the claim fails with the pod's own words.
  auto missing = (*tool)->Restore(dsn, folder + "/default_shop_0123abcd_2000-01-01T00-00-00Z.dump", ro);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message().find(pg.password()), std::string::npos) << missing.status().message();
  EXPECT_NE(missing.status().message().find("restore Job"), std::string::npos) << missing.status().message();
  // Its failed Job stays for reading (TTL) and holds the DSN only as a Secret reference.
  auto left = api->List(kube::ResourcePath{kJobs, "default"}, lo);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->items.size(), 1u);
  EXPECT_EQ(left->items[0].find(pg.password()), std::string::npos);
  EXPECT_EQ(left->items[0].find("postgres://"), std::string::npos);
  value job = value::parse(left->items[0]);
  const value& env = job.at("spec").at("template").at("spec").at("containers").at(0).at("env").at(0);
  EXPECT_EQ(env.at("valueFrom").at("secretKeyRef").at("name").as_string(), "shop-db");
}

}  // namespace
}  // namespace su
