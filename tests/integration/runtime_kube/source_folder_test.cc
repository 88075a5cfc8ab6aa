// spec.migrations.source image and configMap on Kubernetes, end to end below the reconciler: the
// folder-reading Job in the API server emulator (its simulated kubelet prints, as the controller
// image's container, what the real `schema-upgrade __print-folder` prints for Athena's v1.1.0
// folder), the ConfigMap made by `kubectl create configmap --from-file`, and the drizzle engine
// migrating a real PostgreSQL from them. drizzle.__drizzle_migrations must hold exactly the rows
// that the same folder read from the controller's disk (source controller) gives.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "kube/api.h"
#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/runtimes/kubernetes/kube_folder_reader.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using web::json::value;

const char* kControllerImage = "localhost/mig-source-test/schema-upgrade:test";
const char* kTarget = "localhost/olympus/athena:v1.1.0";

std::string SourceDir() { return std::getenv("SU_SOURCE_DIR") ? std::getenv("SU_SOURCE_DIR") : "."; }
std::string AthenaFolder() { return SourceDir() + "/tests/fixtures/images/athena/v1.1.0"; }

// What the hidden subcommand prints for the folder: the real binary on the real folder.
std::string PrintFolder(const std::string& dir, const std::string& engine) {
  const char* bin = std::getenv("SU_BINARY");
  EXPECT_TRUE(bin) << "SU_BINARY is not set (run through ctest)";
  ProcessSpec p;
  p.argv = {bin ? bin : "schema-upgrade", "__print-folder", "--engine", engine, dir};
  p.timeout = std::chrono::minutes(1);
  auto r = PosixProcessRunner()->Run(p);
  EXPECT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->err : r.status().ToString());
  return r.ok() ? r->out : "";
}

void SetRules(const su::testing::KubeEmulator& emu, const su::testing::TempDir& tmp, value rules) {
  value body = value::object();
  body["rules"] = rules;
  std::ofstream(tmp.Path("rules.json")) << body.serialize();
  emu.Kubectl({"create", "--raw", "/emulator/images", "-f", tmp.Path("rules.json")});
}

value Rule(const std::string& image, const std::string& behavior, int code, const std::string& log) {
  value r = value::object();
  r["image"] = value::string(image);
  r["behavior"] = value::string(behavior);
  r["exitCode"] = value::number(code);
  r["log"] = value::string(log);
  return r;
}

std::string Rows(Database* db) {
  auto r = db->Query("SELECT id::text || ' ' || hash || ' ' || created_at::text FROM drizzle.__drizzle_migrations "
                     "ORDER BY id");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::string out;
  if (r.ok()) {
    for (size_t i = 0; i < r->rows.size(); ++i) out += r->Get(i, 0) + "\n";
  }
  return out;
}

SchemaUpgrade Athena(const std::string& uid) {
  SchemaUpgrade su;
  su.namespace_ = "default";
  su.name = "athena";
  su.uid = uid;
  su.target_version = "v1.1.0";
  su.image = kTarget;
  su.migrations.engine = "drizzle";
  return su;
}

class SourceFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu_.Start();
    api_ = emu_.Client();
    ASSERT_TRUE(api_);
    emu_.ApplyCrd();
    emu_.Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
    // A real owner: the emulator's garbage collector deletes Jobs whose owner does not exist.
    auto owner = api_->Create(kube::ResourcePath{{"olympus.io", "v1alpha1", "schemaupgrades", true}, "default"},
                              su::testing::SchemaUpgradeJson("athena", "v1.1.0"));
    ASSERT_TRUE(owner.ok()) << owner.error().Describe();
    uid_ = value::parse(*owner).at("metadata").at("uid").as_string();
    // The rows the target's folder gives when read from disk (source controller).
    const std::string dsn = pg_.CreateDatabase("srcref");
    auto db = ConnectPostgres(dsn, "source-folder-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    SchemaUpgrade su = Athena(uid_);
    su.migrations.path = AthenaFolder();
    auto engine = MakeEngine(su, dsn, "", LocalFileSystem(), nullptr);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    RunReport rep = (*engine)->Apply(db->get(), RunContext{});
    ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
    expected_rows_ = Rows(db->get());
    ASSERT_EQ(std::count(expected_rows_.begin(), expected_rows_.end(), '\n'), 4) << expected_rows_;
  }

  KubeFolderReaderOptions Options() {
    KubeFolderReaderOptions o;
    o.api = api_.get();
    o.controller_image = kControllerImage;
    o.poll_interval = std::chrono::milliseconds(50);
    return o;
  }

  // Migrates a fresh database with the engine MakeEngineForSource builds for su; its history rows.
  std::string MigrateWith(const SchemaUpgrade& su, MigrationFolderReader* reader, std::vector<std::string>* files) {
    const std::string dsn = pg_.CreateDatabase("src");
    auto engine = MakeEngineForSource(su, dsn, su.image, LocalFileSystem(), nullptr, reader);
    EXPECT_TRUE(engine.ok()) << engine.status().ToString();
    if (!engine.ok()) return "";
    auto db = ConnectPostgres(dsn, "source-folder-test");
    EXPECT_TRUE(db.ok());
    auto st = (*engine)->Observe(db->get());
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    if (st.ok()) {
      for (const auto& m : st->pending) files->push_back(m.file);
    }
    RunReport rep = (*engine)->Apply(db->get(), RunContext{});
    EXPECT_TRUE(rep.status.ok()) << rep.status.ToString();
    return Rows(db->get());
  }

  su::testing::PgServer& pg_ = su::testing::PgServer::Shared();
  su::testing::KubeEmulator emu_;
  su::testing::TempDir tmp_;
  std::unique_ptr<kube::KubeApi> api_;
  std::string uid_;
  std::string expected_rows_;
};

TEST_F(SourceFolderTest, ImageSourceReadsTheTargetsFolderWithAJobAndMigratesExactlyItsRows) {
  value rules = value::array();
  rules[0] = Rule("mig-source-test/schema-upgrade", "exit", 0, PrintFolder(AthenaFolder(), "drizzle"));
  SetRules(emu_, tmp_, rules);
  auto reader = NewCachingFolderReader(NewKubeFolderReader(Options()));
  SchemaUpgrade su = Athena(uid_);
  su.migrations.source = kMigrationSourceImage;
  su.migrations.path = "/migrations";

  // The Job the read creates (an init container of the target copying /migrations) lives only for
  // the read: it is found afterwards by watching from the resourceVersion before it, which replays
  // its ADDED event however briefly it existed.
  kube::ListOptions jobs_of_athena;
  jobs_of_athena.label_selector = std::string(kJobResourceLabel) + "=athena";
  auto before = api_->List(kube::ResourcePath{kJobs, "default"}, jobs_of_athena);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(before->items.empty());
  std::vector<std::string> files;
  const std::string rows = MigrateWith(su, reader.get(), &files);
  std::string seen_job;
  kube::WatchOptions wo;
  wo.label_selector = jobs_of_athena.label_selector;
  wo.resource_version = before->resource_version;
  wo.allow_bookmarks = false;
  wo.timeout_seconds = 30;  // only bounds a failing test: the ADDED event is history by now
  auto watched = api_->Watch(kube::ResourcePath{kJobs, "default"}, wo, [&](const kube::WatchEvent& e) {
    if (e.type != "ADDED") return true;
    seen_job = e.object;
    return false;
  });
  ASSERT_TRUE(watched.ok());
  EXPECT_EQ(rows, expected_rows_);
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0], std::string("image:") + kTarget + ":/migrations/0000_init_tenants_users.sql");

  ASSERT_FALSE(seen_job.empty()) << "no folder-reading Job was seen";
  value job = value::parse(seen_job);
  const value& pod = job.at("spec").at("template").at("spec");
  EXPECT_EQ(pod.at("initContainers").at(0).at("image").as_string(), kTarget);
  EXPECT_EQ(pod.at("containers").at(0).at("image").as_string(), kControllerImage);
  EXPECT_EQ(job.at("metadata").at("ownerReferences").at(0).at("uid").as_string(), uid_);

  // The succeeded Job is deleted; a second pass reads nothing again (the controller image now
  // crashes: a new Job would fail).
  kube::ListOptions lo;
  lo.label_selector = std::string(kJobResourceLabel) + "=athena";
  auto left = api_->List(kube::ResourcePath{kJobs, "default"}, lo);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->items.empty());
  rules[0] = Rule("mig-source-test/schema-upgrade", "exit", 1, "must not run\n");
  SetRules(emu_, tmp_, rules);
  std::vector<std::string> again;
  EXPECT_EQ(MigrateWith(su, reader.get(), &again), expected_rows_);
}

TEST_F(SourceFolderTest, ImageSourceWithACutLogIsAnErrorAndMigratesNothing) {
  const std::string full = PrintFolder(AthenaFolder(), "drizzle");
  value rules = value::array();
  rules[0] = Rule("mig-source-test/schema-upgrade", "exit", 0, full.substr(0, full.size() - 200));
  SetRules(emu_, tmp_, rules);
  auto reader = NewKubeFolderReader(Options());
  SchemaUpgrade su = Athena(uid_);
  su.migrations.source = kMigrationSourceImage;
  su.migrations.path = "/migrations";
  auto engine = MakeEngineForSource(su, "", su.image, LocalFileSystem(), nullptr, reader.get());
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("was cut"), std::string::npos) << engine.status().message();
  EXPECT_NE(engine.status().message().find("/migrations from image localhost/olympus/athena:v1.1.0"),
            std::string::npos)
      << engine.status().message();
}

TEST_F(SourceFolderTest, ImageSourceWithoutTheFolderInTheImageSaysWhatToFix) {
  value rules = value::array();
  rules[0] = Rule("olympus/athena", "exit", 1, "cp: can't stat '/app/drizzle/.': No such file or directory\n");
  SetRules(emu_, tmp_, rules);
  auto reader = NewKubeFolderReader(Options());
  SchemaUpgrade su = Athena(uid_);
  su.migrations.source = kMigrationSourceImage;
  su.migrations.path = "/app/drizzle";
  auto engine = MakeEngineForSource(su, "", su.image, LocalFileSystem(), nullptr, reader.get());
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), Code::kInvalidArgument) << engine.status().ToString();
  EXPECT_NE(engine.status().message().find("can't stat '/app/drizzle/.'"), std::string::npos)
      << engine.status().message();
  EXPECT_NE(engine.status().message().find("spec.migrations.path"), std::string::npos);
}

TEST_F(SourceFolderTest, ConfigMapSourceMigratesExactlyTheTargetsRows) {
  emu_.Kubectl({"create", "configmap", "athena-migrations", "-n", "default", "--from-file=" + AthenaFolder(),
                "--from-file=" + AthenaFolder() + "/meta/_journal.json"});
  auto reader = NewKubeFolderReader(Options());
  SchemaUpgrade su = Athena(uid_);
  su.migrations.source = kMigrationSourceConfigMap;
  su.migrations.config_map_name = "athena-migrations";
  std::vector<std::string> files;
  EXPECT_EQ(MigrateWith(su, reader.get(), &files), expected_rows_);
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[3], "configMap:default/athena-migrations/0003_users_last_login.sql");
}

TEST_F(SourceFolderTest, ConfigMapProblemsNameTheConfigMap) {
  auto reader = NewKubeFolderReader(Options());
  SchemaUpgrade su = Athena(uid_);
  su.migrations.source = kMigrationSourceConfigMap;
  su.migrations.config_map_name = "nope";
  auto missing = reader->FromConfigMap(su);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("ConfigMap default/nope"), std::string::npos) << missing.status().message();

  // A journal without its files (they did not fit): the engine names the missing file under the
  // ConfigMap's name.
  emu_.Kubectl({"create", "configmap", "only-journal", "-n", "default",
                "--from-file=" + AthenaFolder() + "/meta/_journal.json", "--from-file=" + AthenaFolder() +
                "/0000_init_tenants_users.sql"});
  su.migrations.config_map_name = "only-journal";
  auto engine = MakeEngineForSource(su, "", su.image, LocalFileSystem(), nullptr, reader.get());
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto db = ConnectPostgres(pg_.CreateDatabase("srcmiss"), "source-folder-test");
  ASSERT_TRUE(db.ok());
  auto st = (*engine)->Observe(db->get());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("configMap:default/only-journal/0001_projects.sql not found"),
            std::string::npos)
      << st.status().message();

  su.migrations.config_map_keys = {"_journal.json", "0009_absent.sql"};
  auto key = reader->FromConfigMap(su);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("has no key 0009_absent.sql"), std::string::npos) << key.status().message();
}

TEST_F(SourceFolderTest, ConfigMapOverTheLimitIsAnErrorWithItsSize) {
  // Written through the API directly (a real API server refuses it; a ConfigMap edited past the
  // limit by other means must not be read as a shorter folder).
  value cm = value::object();
  cm["apiVersion"] = value::string("v1");
  cm["kind"] = value::string("ConfigMap");
  cm["metadata"] = value::object();
  cm["metadata"]["name"] = value::string("too-big");
  cm["data"] = value::object();
  cm["data"]["0000_big.sql"] = value::string("SELECT 1;\n" + std::string(1100 * 1024, '-'));
  auto made = api_->Create(kube::ResourcePath{kConfigMaps, "default"}, cm.serialize());
  if (!made.ok()) GTEST_SKIP() << "the emulator enforces the limit itself: " << made.error().Describe();
  auto reader = NewKubeFolderReader(Options());
  SchemaUpgrade su = Athena(uid_);
  su.migrations.source = kMigrationSourceConfigMap;
  su.migrations.config_map_name = "too-big";
  auto f = reader->FromConfigMap(su);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("ConfigMap default/too-big"), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("1 MiB limit"), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("1126422 bytes"), std::string::npos) << f.status().message();
}

// `schema-upgrade lint DIR` says when a folder would not fit one ConfigMap (and not when it fits).
TEST(LintConfigMapLimitTest, LintSaysWhenAFolderIsTooBigForAConfigMap) {
  su::testing::TempDir dir;
  std::string big = "SELECT 1;\n";
  while (big.size() < 1100 * 1024) big += "-- a long comment line to make the file big enough for the test\n";
  std::ofstream(dir.Path("0001_big.up.sql")) << big;
  const char* bin = std::getenv("SU_BINARY");
  ASSERT_TRUE(bin);
  for (bool too_big : {true, false}) {
    if (!too_big) std::ofstream(dir.Path("0001_big.up.sql")) << "SELECT 1;\n";
    ProcessSpec p;
    p.argv = {bin, "lint", dir.path()};
    p.timeout = std::chrono::minutes(1);
    auto r = PosixProcessRunner()->Run(p);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 0) << r->err;
    EXPECT_EQ(r->err.find("more than one ConfigMap holds") != std::string::npos, too_big) << r->err;
    if (too_big) {
      EXPECT_NE(r->err.find(dir.path()), std::string::npos) << r->err;
    }
  }
}

// The default of --controller-image inside a pod: its own container named "controller", found
// with a list by field selector (the RBAC has list on pods, not get).
TEST_F(SourceFolderTest, ControllerImageDefaultsToThePodsOwnControllerContainer) {
  value pod = value::parse(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "schema-upgrade-abc", "namespace": "default"},
    "spec": {"containers": [{"name": "proxy", "image": "envoy:1"},
                            {"name": "controller", "image": "localhost/schema-upgrade:dev"}]}})");
  auto made = api_->Create(kube::ResourcePath{{"", "v1", "pods", true}, "default"}, pod.serialize());
  ASSERT_TRUE(made.ok()) << made.error().Describe();
  EXPECT_EQ(OwnPodImage(api_.get(), "default", "schema-upgrade-abc"), "localhost/schema-upgrade:dev");
  EXPECT_EQ(OwnPodImage(api_.get(), "default", "no-such-pod"), "");
}

}  // namespace
}  // namespace su
