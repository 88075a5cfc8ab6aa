// spec.migrations.source image on Kubernetes, without a cluster: the folder-reading Job's object
// (an init container of the target image copying the folder into an emptyDir, the controller's
// image printing it, nothing of the app container's env or mounts, restricted Pod Security), and
// the decoding of what `__print-folder` prints, which refuses a cut or altered log.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include "reconcilers/runtimes/kubernetes/kube_folder_reader.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"

namespace su {
namespace {

using web::json::value;

const char* kAthena = R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "athena", "namespace": "olympus"},
  "spec": {"template": {"spec": {
    "serviceAccountName": "athena",
    "imagePullSecrets": [{"name": "registry"}],
    "securityContext": {"runAsUser": 10001},
    "volumes": [{"name": "config", "configMap": {"name": "athena-config"}}],
    "containers": [{"name": "athena", "image": "localhost/olympus/athena:v1.0.0",
       "env": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "athena-db", "key": "dsn"}}}],
       "volumeMounts": [{"name": "config", "mountPath": "/etc/athena"}],
       "securityContext": {"readOnlyRootFilesystem": true},
       "imagePullPolicy": "Never"}]}}}})";

KubeJobOptions Options() {
  KubeJobOptions o;
  o.ns = "olympus";
  o.name = "athena";
  o.uid = "uid-1";
  o.workload.kind = "Deployment";
  o.workload.name = "athena";
  o.workload.container = "athena";
  return o;
}

ContainerRunSpec ReadSpec(const std::string& target = "localhost/olympus/athena:v1.1.0") {
  ContainerRunSpec s;
  s.name = "read-migrations";
  s.image = "localhost/schema-upgrade:test";
  s.args = {"__print-folder", "--engine", "drizzle", kFolderJobMount};
  s.folder_from_image = ContainerRunSpec::FolderFromImage{target, "/migrations", kFolderJobMount};
  return s;
}

TEST(FolderJobTest, InitContainerOfTheTargetCopiesTheFolderForTheControllerImage) {
  auto built = BuildMigrationJob(Options(), ReadSpec(), kAthena);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  value job = value::parse(*built);
  const value& pod = job.at("spec").at("template").at("spec");
  ASSERT_EQ(pod.at("initContainers").size(), 1u);
  const value& init = pod.at("initContainers").at(0);
  EXPECT_EQ(init.at("name").as_string(), kJobCopyContainer);
  EXPECT_EQ(init.at("image").as_string(), "localhost/olympus/athena:v1.1.0");
  // The folder is an argument, never spliced into the shell script.
  EXPECT_EQ(init.at("command").serialize(), R"(["sh","-c","cp -R \"$0\"/. \"$1\"/","/migrations","/su-folder"])");
  EXPECT_EQ(init.at("imagePullPolicy").as_string(), "Never");  // runs the app's image as the app does
  EXPECT_TRUE(init.at("securityContext").at("readOnlyRootFilesystem").as_bool());
  EXPECT_FALSE(init.at("securityContext").at("allowPrivilegeEscalation").as_bool());
  EXPECT_EQ(init.at("volumeMounts").at(0).at("mountPath").as_string(), "/su-folder");

  const value& c = pod.at("containers").at(0);
  EXPECT_EQ(c.at("image").as_string(), "localhost/schema-upgrade:test");
  EXPECT_FALSE(c.has_field("command"));  // the controller image's entrypoint is schema-upgrade
  EXPECT_EQ(c.at("args").serialize(), R"(["__print-folder","--engine","drizzle","/su-folder"])");
  EXPECT_FALSE(c.has_field("env"));  // nothing of the app's: no DSN reference at all
  EXPECT_FALSE(c.has_field("imagePullPolicy"));
  EXPECT_EQ(c.at("volumeMounts").size(), 1u);
  EXPECT_EQ(c.at("volumeMounts").at(0).at("name").as_string(), kJobFolderVolume);
  EXPECT_FALSE(c.at("securityContext").at("allowPrivilegeEscalation").as_bool());
  EXPECT_EQ(c.at("securityContext").at("capabilities").at("drop").at(0).as_string(), "ALL");

  // Pod: the app's identity and pull secrets (to pull its image), the restricted defaults, only
  // the emptyDir, no API token.
  EXPECT_EQ(pod.at("serviceAccountName").as_string(), "athena");
  EXPECT_EQ(pod.at("imagePullSecrets").at(0).at("name").as_string(), "registry");
  EXPECT_EQ(pod.at("securityContext").at("runAsUser").as_integer(), 10001);
  EXPECT_TRUE(pod.at("securityContext").at("runAsNonRoot").as_bool());
  EXPECT_EQ(pod.at("securityContext").at("seccompProfile").at("type").as_string(), "RuntimeDefault");
  EXPECT_FALSE(pod.at("automountServiceAccountToken").as_bool());
  ASSERT_EQ(pod.at("volumes").size(), 1u);
  EXPECT_TRUE(pod.at("volumes").at(0).has_field("emptyDir"));
  EXPECT_EQ(job.at("spec").at("backoffLimit").as_integer(), 0);
  EXPECT_EQ(job.at("metadata").at("ownerReferences").at(0).at("uid").as_string(), "uid-1");
}

TEST(FolderJobTest, NameDependsOnTheTargetImageAndFolder) {
  const auto a = MigrationJobName(Options(), ReadSpec("athena:1"));
  EXPECT_EQ(a, MigrationJobName(Options(), ReadSpec("athena:1")));
  EXPECT_NE(a, MigrationJobName(Options(), ReadSpec("athena:2")));
  auto other = ReadSpec("athena:1");
  other.folder_from_image->path = "/app/drizzle";
  EXPECT_NE(a, MigrationJobName(Options(), other));
}

TEST(FolderJobTest, RelativeFolderIsRefused) {
  auto s = ReadSpec();
  s.folder_from_image->path = "migrations";
  auto built = BuildMigrationJob(Options(), s, kAthena);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().code(), Code::kInvalidArgument);
}

MigrationFolder Athena() {
  MigrationFolder f;
  f.origin = "/su-folder";
  f.files["0000_init.sql"] = "CREATE TABLE a (id int);\n--> statement-breakpoint\nCREATE TABLE b (id int);\n";
  f.files["meta/_journal.json"] = R"({"version":"7","dialect":"postgresql","entries":[]})";
  f.files["0001_bin.sql"] = std::string("x\0y\xff", 4);  // bytes survive as they are
  return f;
}

TEST(FolderDecodeTest, RoundTripsThePrintedFolderAmidOtherLogLines) {
  const std::string log = "some startup line\n" + EncodeMigrationFolder(Athena()) + "trailing\n";
  auto f = DecodeMigrationFolder(log, "drizzle", "test");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->files, Athena().files);
}

TEST(FolderDecodeTest, CutLogIsAnErrorNotAShorterFolder) {
  const std::string full = EncodeMigrationFolder(Athena());
  const std::string cut = full.substr(0, full.size() / 2);
  auto f = DecodeMigrationFolder(cut, "drizzle", "reading /migrations");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("was cut"), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("reading /migrations"), std::string::npos);
}

TEST(FolderDecodeTest, AlteredBytesFailTheHash) {
  std::string log = EncodeMigrationFolder(Athena());
  const size_t at = log.find("\"path\"");
  ASSERT_NE(at, std::string::npos);
  log[at + 1] = 'P';
  auto f = DecodeMigrationFolder(log, "drizzle", "test");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("SHA-256"), std::string::npos);
}

TEST(FolderDecodeTest, NoFrameSaysWhichImageToCheck) {
  auto f = DecodeMigrationFolder("exec /usr/local/bin/schema-upgrade: no such file\n", "sql", "test");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("--controller-image"), std::string::npos);
}

TEST(FolderDecodeTest, PathsOutsideTheFolderAreRefused) {
  MigrationFolder f;
  f.files["../etc/passwd.sql"] = "x";
  auto d = DecodeMigrationFolder(EncodeMigrationFolder(f), "sql", "test");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
  MigrationFolder j;
  j.files["meta/_journal.json"] = "{}";  // a drizzle file, not an sql one
  EXPECT_FALSE(DecodeMigrationFolder(EncodeMigrationFolder(j), "sql", "test").ok());
}

}  // namespace
}  // namespace su
