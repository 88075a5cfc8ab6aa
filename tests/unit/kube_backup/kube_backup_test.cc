// Backups on Kubernetes without a cluster: policy.backup.pvc in the manifest, the validation that
// refuses a backup policy without a claim (naming spec.policy.backup.pvc), the backup Job's object
// (the claim mounted, restricted Pod Security, the DSN only as a Secret reference: no DSN literal
// anywhere in the JSON the controller sends) and the Job's result line.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include "controller/cli/backup_job.h"
#include "controller/cli/kube_admit.h"
#include "controller/cli/kube_backup.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "tests/support/fakes/fake_kube_api.h"

namespace su {
namespace {

using web::json::value;

constexpr const char* kDsn = "postgres://kratos:S3cret-Passw0rd@db.ciam.svc:5432/kratos?sslmode=disable";

std::string Manifest(const std::string& backup, const std::string& dsn_from = "secretKeyRef: {name: kratos-db, key: dsn}") {
  return "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: kratos, namespace: ciam}\n"
         "spec:\n  targetVersion: v1.2.0\n  image: localhost/oryd/kratos:v1.2.0\n"
         "  database:\n    dsnFrom: {" + dsn_from + "}\n"
         "  migrations: {engine: sql, path: migrations}\n"
         "  policy:\n    backup: " + backup + "\n";
}

KubeBackupSettings Settings(kube::KubeApi* api, const std::string& image) {
  KubeBackupSettings s;
  s.api = api;
  s.image = image;
  return s;
}

Result<SchemaUpgrade> Parse(const std::string& text) {
  auto all = ParseManifests(text, "kratos.yaml", "/tmp");
  if (!all.ok()) return all.status();
  return all->at(0);
}

TEST(KubeBackupSpec, ParsesClaimAndSubPath) {
  auto su = Parse(Manifest("{enabled: true, retention: 3, pvc: {claimName: db-backups, subPath: ciam/kratos/}}"));
  ASSERT_TRUE(su.ok()) << su.status().ToString();
  EXPECT_EQ(su->policy.backup_pvc_claim, "db-backups");
  EXPECT_EQ(su->policy.backup_pvc_sub_path, "ciam/kratos");
  EXPECT_EQ(BackupClaimFolder(*su), "pvc://db-backups/ciam/kratos");
  EXPECT_TRUE(AdmitForKubernetes(*su).ok());
  // The claim is desired state: changing it changes the spec hash.
  auto other = Parse(Manifest("{enabled: true, retention: 3, pvc: {claimName: other, subPath: ciam/kratos}}"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(su->spec_hash, other->spec_hash);
}

TEST(KubeBackupSpec, RefusesBadClaimFields) {
  auto no_name = Parse(Manifest("{enabled: true, pvc: {subPath: x}}"));
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.status().message().find("spec.policy.backup.pvc.claimName"), std::string::npos)
      << no_name.status().message();
  for (const char* sub : {"/abs", "../up", "a/../../b", ".."}) {
    auto bad = Parse(Manifest(std::string("{enabled: true, pvc: {claimName: db-backups, subPath: \"") + sub + "\"}}"));
    ASSERT_FALSE(bad.ok()) << sub;
    EXPECT_NE(bad.status().message().find("spec.policy.backup.pvc.subPath"), std::string::npos) << bad.status().message();
  }
  auto bad_name = Parse(Manifest("{enabled: true, pvc: {claimName: Not_A_Name}}"));
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.status().message().find("claimName"), std::string::npos);
}

// The plan says where the backup goes; the step text is in the plan hash, so an approval given
// for one claim does not cover another.
TEST(KubeBackupSpec, PlanNamesTheClaimAndItsHashCoversIt) {
  auto su = Parse(Manifest("{enabled: true, pvc: {claimName: db-backups, subPath: ciam/kratos}}"));
  auto other = Parse(Manifest("{enabled: true, pvc: {claimName: elsewhere}}"));
  ASSERT_TRUE(su.ok() && other.ok());
  EngineState state;
  PendingMigration m;
  m.version = "20240101000001";
  m.name = "init";
  state.pending.push_back(m);
  Plan p = BuildPlan(*su, state, "localhost/oryd/kratos:v1.1.0", "localhost/oryd/kratos:v1.2.0");
  ASSERT_FALSE(p.steps.empty());
  EXPECT_EQ(p.steps[0].kind, "backup");
  EXPECT_NE(p.steps[0].description.find("PersistentVolumeClaim db-backups, folder ciam/kratos"), std::string::npos)
      << p.steps[0].description;
  EXPECT_NE(p.hash, BuildPlan(*other, state, "localhost/oryd/kratos:v1.1.0", "localhost/oryd/kratos:v1.2.0").hash);
}

TEST(KubeBackupAdmit, BackupWithoutClaimIsInvalidNamingTheField) {
  auto su = Parse(Manifest("{enabled: true, dir: /var/backups}"));
  ASSERT_TRUE(su.ok()) << su.status().ToString();
  Status s = AdmitForKubernetes(*su);
  ASSERT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("spec.policy.backup.pvc"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("kratos.yaml"), std::string::npos) << s.message();
  // Without backups nothing is asked for.
  auto off = Parse(Manifest("{enabled: false}"));
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(AdmitForKubernetes(*off).ok());
}

TEST(KubeBackupAdmit, BackupNeedsTheDsnFromASecret) {
  auto su = Parse(Manifest("{enabled: true, pvc: {claimName: db-backups}}", "env: KRATOS_DSN"));
  ASSERT_TRUE(su.ok()) << su.status().ToString();
  Status s = AdmitForKubernetes(*su);
  ASSERT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("spec.database.dsnFrom"), std::string::npos) << s.message();
}

TEST(KubeBackupFactory, RefusesWithoutClaimOrImage) {
  auto su = Parse(Manifest("{enabled: true}"));
  ASSERT_TRUE(su.ok());
  testing::FakeKubeApi api;
  auto tool = KubeBackupFactory(Settings(&api, "localhost/su:1"))(*su);
  ASSERT_FALSE(tool.ok());
  EXPECT_NE(tool.status().message().find("spec.policy.backup.pvc"), std::string::npos);
  auto with = Parse(Manifest("{enabled: true, pvc: {claimName: db-backups}}"));
  ASSERT_TRUE(with.ok());
  auto no_image = KubeBackupFactory(Settings(&api, ""))(*with);
  ASSERT_FALSE(no_image.ok());
  EXPECT_NE(no_image.status().message().find("--controller-image"), std::string::npos);
  EXPECT_TRUE(KubeBackupFactory(Settings(&api, "localhost/su:1"))(*with).ok());
  EXPECT_EQ(api.calls().size(), 0u);  // nothing touched the cluster
}

const value* Find(const value& arr, const std::string& name) {
  for (const auto& v : arr.as_array()) {
    if (v.at("name").as_string() == name) return &v;
  }
  return nullptr;
}

TEST(KubeBackupJob, MountsTheClaimRunsRestrictedAndTakesTheDsnFromTheSecret) {
  auto su = Parse(Manifest("{enabled: true, retention: 2, pvc: {claimName: db-backups, subPath: ciam}}"));
  ASSERT_TRUE(su.ok());
  su->uid = "uid-1";
  auto run = BackupDumpRun(*su, "localhost/schema-upgrade:1", "pvc://db-backups/ciam/ciam_kratos_h_2026.dump");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  KubeJobOptions o;
  o.ns = "ciam";
  o.name = "kratos";
  o.uid = "uid-1";
  o.fs_group = 65532;
  auto json = BuildMigrationJob(o, *run, "");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  value job = value::parse(*json);
  const value& pod = job.at("spec").at("template").at("spec");
  const value* vol = Find(pod.at("volumes"), "claim-0");
  ASSERT_NE(vol, nullptr) << *json;
  EXPECT_EQ(vol->at("persistentVolumeClaim").at("claimName").as_string(), "db-backups");
  const value& c = pod.at("containers").at(0);
  EXPECT_EQ(c.at("image").as_string(), "localhost/schema-upgrade:1");
  EXPECT_FALSE(c.has_field("command"));  // the image's ENTRYPOINT: the schema-upgrade binary
  const value* mount = Find(c.at("volumeMounts"), "claim-0");
  ASSERT_NE(mount, nullptr);
  EXPECT_EQ(mount->at("mountPath").as_string(), "/backup");
  std::vector<std::string> args;
  for (const auto& a : c.at("args").as_array()) args.push_back(a.as_string());
  EXPECT_EQ(args, (std::vector<std::string>{"backup-job", "dump", "--file", "/backup/ciam/ciam_kratos_h_2026.dump",
                                            "--retention", "2", "--prefix", "ciam_kratos_"}));
  // restricted Pod Security Standard, and the claim writable for a non-root user.
  EXPECT_TRUE(pod.at("securityContext").at("runAsNonRoot").as_bool());
  EXPECT_EQ(pod.at("securityContext").at("seccompProfile").at("type").as_string(), "RuntimeDefault");
  EXPECT_EQ(pod.at("securityContext").at("fsGroup").as_integer(), 65532);
  EXPECT_FALSE(c.at("securityContext").at("allowPrivilegeEscalation").as_bool());
  EXPECT_EQ(c.at("securityContext").at("capabilities").at("drop").at(0).as_string(), "ALL");
  EXPECT_FALSE(pod.has_field("serviceAccountName"));  // nothing inherited from the app
  const value* dsn = Find(c.at("env"), kBackupDsnEnv);
  ASSERT_NE(dsn, nullptr);
  EXPECT_FALSE(dsn->has_field("value"));
  EXPECT_EQ(dsn->at("valueFrom").at("secretKeyRef").at("name").as_string(), "kratos-db");
  EXPECT_EQ(dsn->at("valueFrom").at("secretKeyRef").at("key").as_string(), "dsn");
  EXPECT_EQ(job.at("spec").at("backoffLimit").as_integer(), 0);
  EXPECT_EQ(job.at("metadata").at("ownerReferences").at(0).at("uid").as_string(), "uid-1");

  // Another backup file is another Job; the same file is the same Job (adopted after a restart).
  auto again = BackupDumpRun(*su, "localhost/schema-upgrade:1", "pvc://db-backups/ciam/ciam_kratos_h_2026.dump");
  auto later = BackupDumpRun(*su, "localhost/schema-upgrade:1", "pvc://db-backups/ciam/ciam_kratos_h_2027.dump");
  EXPECT_EQ(MigrationJobName(o, *run), MigrationJobName(o, *again));
  EXPECT_NE(MigrationJobName(o, *run), MigrationJobName(o, *later));
}

TEST(KubeBackupJob, RestoreRunPassesTheRestoreOptions) {
  auto su = Parse(Manifest("{enabled: true, pvc: {claimName: db-backups}}"));
  ASSERT_TRUE(su.ok());
  RestoreOptions opt;
  opt.lock_timeout = std::chrono::milliseconds(5000);
  opt.backup_snapshot = "100:105:101,103";
  opt.allow_data_loss = true;
  opt.application_name = "schema-upgrade-restore-abc";
  auto run = BackupRestoreRun(*su, "img:1", "pvc://old-claim/ciam_kratos_h_s.dump", opt);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->claim_mounts.at(0).claim, "old-claim");  // the claim the record names
  EXPECT_EQ(run->args, (std::vector<std::string>{"backup-job", "restore", "--file", "/backup/ciam_kratos_h_s.dump",
                                                 "--snapshot", "100:105:101,103", "--lock-timeout", "5s",
                                                 "--allow-data-loss", "--application-name",
                                                 "schema-upgrade-restore-abc"}));
  opt.backup_snapshot = "1:2; DROP TABLE x";
  EXPECT_FALSE(BackupRestoreRun(*su, "img:1", "pvc://old-claim/f.dump", opt).ok());
  EXPECT_FALSE(BackupRestoreRun(*su, "img:1", "/var/backups/f.dump", RestoreOptions{}).ok());
  EXPECT_FALSE(BackupRestoreRun(*su, "img:1", "pvc://c/../etc/passwd", RestoreOptions{}).ok());
}

// The restore's audit row (restore.h) goes to the Job as flags, without the actor: a restarted
// controller builds the same arguments, hence the same Job name, and adopts the running Job.
TEST(KubeBackupJob, RestoreRunPassesTheAuditRowWithoutTheActor) {
  auto su = Parse(Manifest("{enabled: true, pvc: {claimName: db-backups}}"));
  ASSERT_TRUE(su.ok());
  RestoreOptions opt;
  opt.audit_row = AuditEntry{};
  opt.audit_row->resource = "ciam/kratos";
  opt.audit_row->version = "v1.2.0";
  opt.audit_row->name = "";  // an empty value is left out (the flags take none)
  opt.audit_row->detail = "pvc://c/f.dump";
  opt.audit_row->actor = "controller@pod-1";
  auto run = BackupRestoreRun(*su, "img:1", "pvc://c/f.dump", opt);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->args, (std::vector<std::string>{"backup-job", "restore", "--file", "/backup/f.dump",
                                                 "--audit-resource", "ciam/kratos", "--audit-version", "v1.2.0",
                                                 "--audit-detail", "pvc://c/f.dump"}));
  opt.audit_row->actor = "controller@pod-2";
  EXPECT_EQ(BackupRestoreRun(*su, "img:1", "pvc://c/f.dump", opt)->args, run->args);
}

// The tool as the reconciler calls it, with the DSN in hand: the claim is read first, and what
// reaches the API server (the Job) never carries the DSN or its password.
TEST(KubeBackupTool, NoDsnLiteralReachesTheApiServer) {
  auto su = Parse(Manifest("{enabled: true, pvc: {claimName: db-backups}}"));
  ASSERT_TRUE(su.ok());
  testing::FakeKubeApi api;
  api.AddWrite(std::string(R"({"metadata":{"name":"db-backups"}})"));  // GET the claim
  api.AddWrite(kube::ApiErrorFromResponse(404, "", "get", "jobs"));      // GET the Job: none
  api.AddWrite(std::string(R"({"metadata":{"uid":"j1","name":"x"}})"));  // CREATE
  api.AddWrite(std::string(R"({"metadata":{"uid":"j1"},"status":{"conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded"}]}})"));
  api.AddList(kube::ListResult{"1", {}});
  KubeBackupSettings s;
  s.api = &api;
  s.image = "localhost/schema-upgrade:1";
  s.poll_interval = std::chrono::milliseconds(1);
  auto tool = KubeBackupFactory(s)(*su);
  ASSERT_TRUE(tool.ok());
  EXPECT_EQ((*tool)->RemoteFolder(), "pvc://db-backups");
  auto b = (*tool)->Backup(kDsn, "pvc://db-backups/ciam_kratos_h_s.dump");
  ASSERT_FALSE(b.ok());  // the pod left no result line
  EXPECT_EQ(b.status().message().find("S3cret"), std::string::npos);
  auto calls = api.calls();
  ASSERT_GE(calls.size(), 3u);
  EXPECT_EQ(calls[0].verb, "get");
  EXPECT_NE(calls[0].url.find("/api/v1/namespaces/ciam/persistentvolumeclaims/db-backups"), std::string::npos);
  bool created = false;
  for (const auto& c : calls) {
    EXPECT_EQ(c.body.find("S3cret"), std::string::npos) << c.verb << " " << c.url;
    EXPECT_EQ(c.body.find("postgres://"), std::string::npos) << c.verb << " " << c.url;
    created |= c.verb == "create";
  }
  EXPECT_TRUE(created);
}

TEST(KubeBackupTool, MissingClaimIsNotFoundNamingTheClaim) {
  auto su = Parse(Manifest("{enabled: true, pvc: {claimName: db-backups}}"));
  ASSERT_TRUE(su.ok());
  testing::FakeKubeApi api;  // every GET answers 404
  auto tool = KubeBackupFactory(Settings(&api, "img:1"))(*su);
  ASSERT_TRUE(tool.ok());
  auto b = (*tool)->Backup(kDsn, "pvc://db-backups/f.dump");
  ASSERT_EQ(b.status().code(), Code::kNotFound);
  EXPECT_NE(b.status().message().find("PersistentVolumeClaim ciam/db-backups"), std::string::npos);
  EXPECT_EQ(api.Count("create"), 0);
}

// A controller stopping (SIGTERM, lost lease) stops waiting for the Job and says so (retried).
TEST(KubeBackupTool, StopsWaitingWhenCancelled) {
  auto su = Parse(Manifest("{enabled: true, pvc: {claimName: db-backups}}"));
  ASSERT_TRUE(su.ok());
  testing::FakeKubeApi api;
  api.AddWrite(std::string(R"({"metadata":{"name":"db-backups"}})"));
  api.AddWrite(kube::ApiErrorFromResponse(404, "", "get", "jobs"));
  api.AddWrite(std::string(R"({"metadata":{"uid":"j1","name":"x"}})"));
  KubeBackupSettings s;
  s.api = &api;
  s.image = "img:1";
  s.cancelled = [] { return true; };
  auto tool = KubeBackupFactory(s)(*su);
  ASSERT_TRUE(tool.ok());
  auto b = (*tool)->Backup(kDsn, "pvc://db-backups/f.dump");
  EXPECT_EQ(b.status().code(), Code::kCancelled) << b.status().ToString();
}

TEST(BackupJobResult, RoundTripsAndTakesTheLastLine) {
  BackupJobResult r;
  r.file = "/backup/a.dump";
  r.size_bytes = 1234;
  r.pruned = {"/backup/old.dump"};
  r.restored = true;
  r.writes_since = 3;
  r.writes_detail = "public.users: 3";
  r.audit_recorded = true;
  std::string log = "pg_dump: warning\n" + FormatBackupJobResult(BackupJobResult{}) + "\n" + FormatBackupJobResult(r) + "\n";
  auto got = ParseBackupJobResult(log);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->file, "/backup/a.dump");
  EXPECT_EQ(got->size_bytes, 1234);
  EXPECT_EQ(got->pruned, r.pruned);
  EXPECT_TRUE(got->restored);
  EXPECT_EQ(got->writes_since, 3);
  EXPECT_EQ(got->writes_detail, "public.users: 3");
  EXPECT_TRUE(got->audit_recorded);
  EXPECT_FALSE(ParseBackupJobResult(FormatBackupJobResult(BackupJobResult{}))->audit_recorded);
  BackupJobResult e;
  e.code = Code::kLockTimeout;
  e.message = "lock not granted\nwithin 5s";
  auto err = ParseBackupJobResult(FormatBackupJobResult(e));
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, Code::kLockTimeout);
  EXPECT_EQ(err->message, e.message);
  EXPECT_EQ(ParseBackupJobResult("no result here\n").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace su
