// PlanOffline + OpenPreviousSource: a version bump committed in a git repository (or a folder
// holding the previous version) planned without a database: exactly the new migrations, with
// their statements and lint findings; drift between the versions; a new resource; the fixture
// Ory images read with podman; and the errors a CI user meets (unknown ref).
#include "reconcilers/offline/offline_plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "reconcilers/manifest/manifest.h"
#include "tests/support/podman/local_podman.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

// chdir for the test's duration: a PreviousSource reads the repository of the working directory.
class InDir {
 public:
  explicit InDir(const std::string& d) : old_(std::filesystem::current_path()) { std::filesystem::current_path(d); }
  ~InDir() { std::filesystem::current_path(old_); }

 private:
  std::filesystem::path old_;
};

void Git(const std::string& repo, std::vector<std::string> args) {
  ProcessSpec s;
  s.argv = {"git", "-C", repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"};
  s.argv.insert(s.argv.end(), args.begin(), args.end());
  auto r = PosixProcessRunner()->Run(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->Succeeded()) << FormatArgv(s.argv) << ": " << r->Tail(5);
}

std::string SqlManifest(const std::string& version) {
  return "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: app, namespace: shop}\nspec:\n"
         "  targetVersion: \"" + version + "\"\n  database: {dsnFrom: {env: APP_DSN}}\n"
         "  migrations: {engine: sql, path: ../db/migrations}\n";
}

SchemaUpgrade Load(const std::string& file) {
  auto r = LoadManifestFile(LocalFileSystem(), file);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r->front();
}

OfflineOptions Options(const TempDir& scratch) {
  OfflineOptions o;
  o.fs = LocalFileSystem();
  o.runner = PosixProcessRunner();
  o.scratch_dir = scratch.path();
  return o;
}

std::vector<std::string> Versions(const Plan& p) {
  std::vector<std::string> v;
  for (const auto& m : p.state.pending) v.push_back(m.version);
  return v;
}

class OfflinePlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = dir_.path();
    Git(repo_, {"init", "-q", "-b", "main"});
    dir_.Write("upgrades/app.yaml", SqlManifest("1.1.0"));
    dir_.Write("db/migrations/20240101000000_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
    dir_.Write("db/migrations/20240102000000_orders.up.sql", "CREATE TABLE orders (id int PRIMARY KEY);\n");
    Git(repo_, {"add", "-A"});
    Git(repo_, {"commit", "-q", "-m", "v1.1.0"});
  }

  TempDir dir_, scratch_;
  std::string repo_;
};

TEST_F(OfflinePlanTest, GitRefBumpListsExactlyTheNewMigrationsWithStatementsAndFindings) {
  dir_.Write("upgrades/app.yaml", SqlManifest("1.2.0"));
  dir_.Write("db/migrations/20240201000000_orders_user.up.sql",
             "ALTER TABLE orders ADD COLUMN user_id int;\nCREATE INDEX orders_user_idx ON orders (user_id);\n");
  dir_.Write("db/migrations/20240202000000_users_email.up.sql", "ALTER TABLE users ADD COLUMN email text;\n");
  Git(repo_, {"add", "-A"});
  Git(repo_, {"commit", "-q", "-m", "v1.2.0"});

  InDir in(repo_ + "/upgrades");
  auto prev = OpenPreviousSource("HEAD~1", LocalFileSystem(), PosixProcessRunner(), scratch_.path());
  ASSERT_TRUE(prev.ok()) << prev.status().ToString();
  auto r = PlanOffline(Load("app.yaml"), prev->get(), Options(scratch_));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Versions(r->plan), (std::vector<std::string>{"20240201000000", "20240202000000"}));
  EXPECT_EQ(r->plan.db_version, "20240102000000");
  EXPECT_EQ(r->comment.from_version, "1.1.0");
  EXPECT_EQ(r->comment.from_label, "HEAD~1");
  EXPECT_TRUE(r->comment.offline);
  EXPECT_FALSE(r->comment.offline_unknowns.empty());
  ASSERT_EQ(r->plan.state.pending[0].statements.size(), 2u);
  EXPECT_NE(r->plan.state.pending[0].statements[1].find("CREATE INDEX orders_user_idx"), std::string::npos);
  ASSERT_FALSE(r->plan.findings.empty());
  EXPECT_EQ(r->plan.findings[0].rule, "create-index-without-concurrently");
  EXPECT_TRUE(r->plan.state.drift.empty());
  // The comment says it is offline and never shows the offline hash as approvable.
  std::string md = RenderPlanComment(r->plan, r->comment);
  EXPECT_NE(md.find("`shop/app`: `1.1.0` → `1.2.0`, 2 sql migrations"), std::string::npos) << md;
  EXPECT_EQ(md.find(r->plan.hash), std::string::npos) << md;
}

TEST_F(OfflinePlanTest, AFileEditedBetweenTheVersionsIsDriftAndADroppedOneADowngrade) {
  dir_.Write("db/migrations/20240101000000_users.up.sql", "CREATE TABLE users (id bigint PRIMARY KEY);\n");
  std::filesystem::remove(dir_.Path("db/migrations/20240102000000_orders.up.sql"));
  InDir in(repo_);
  auto prev = OpenPreviousSource("main", LocalFileSystem(), PosixProcessRunner(), scratch_.path());
  ASSERT_TRUE(prev.ok()) << prev.status().ToString();
  auto r = PlanOffline(Load("upgrades/app.yaml"), prev->get(), Options(scratch_));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->plan.state.drift.size(), 1u);
  EXPECT_EQ(r->plan.state.drift[0].version, "20240101000000");
  EXPECT_TRUE(r->plan.HasUnacceptedDrift());
  EXPECT_EQ(r->plan.ahead, (std::vector<std::string>{"20240102000000"}));
  EXPECT_TRUE(r->plan.downgrade);
}

TEST_F(OfflinePlanTest, AFolderHoldingThePreviousVersionWorksLikeARef) {
  TempDir previous;
  std::filesystem::copy(repo_ + "/upgrades", previous.Path("upgrades"), std::filesystem::copy_options::recursive);
  std::filesystem::copy(repo_ + "/db", previous.Path("db"), std::filesystem::copy_options::recursive);
  dir_.Write("upgrades/app.yaml", SqlManifest("1.2.0"));
  dir_.Write("db/migrations/20240301000000_x.up.sql", "CREATE TABLE x (id int);\n");
  InDir in(repo_);
  auto prev = OpenPreviousSource(previous.path(), LocalFileSystem(), PosixProcessRunner(), scratch_.path());
  ASSERT_TRUE(prev.ok()) << prev.status().ToString();
  auto r = PlanOffline(Load("upgrades/app.yaml"), prev->get(), Options(scratch_));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Versions(r->plan), (std::vector<std::string>{"20240301000000"}));
  EXPECT_EQ(r->comment.from_version, "1.1.0");
}

TEST_F(OfflinePlanTest, ANewResourceRunsEveryMigration) {
  dir_.Write("upgrades/new.yaml", "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: fresh}\n"
                                  "spec:\n  targetVersion: \"1\"\n  database: {dsnFrom: {env: X}}\n"
                                  "  migrations: {engine: sql, path: ../db/migrations}\n");
  InDir in(repo_);
  auto prev = OpenPreviousSource("HEAD", LocalFileSystem(), PosixProcessRunner(), scratch_.path());
  ASSERT_TRUE(prev.ok());
  auto r = PlanOffline(Load("upgrades/new.yaml"), prev->get(), Options(scratch_));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->plan.state.pending.size(), 2u);
  EXPECT_EQ(r->comment.from_version, "");
}

TEST_F(OfflinePlanTest, AnUnknownRefIsBadInputNamingIt) {
  InDir in(repo_);
  auto prev = OpenPreviousSource("origin/nope", LocalFileSystem(), PosixProcessRunner(), scratch_.path());
  ASSERT_FALSE(prev.ok());
  EXPECT_EQ(prev.status().code(), Code::kInvalidArgument);
  EXPECT_NE(prev.status().message().find("origin/nope"), std::string::npos) << prev.status().message();
}

TEST_F(OfflinePlanTest, DrizzleReplaysThePreviousJournal) {
  const char* src = std::getenv("SU_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  std::filesystem::copy(std::string(src) + "/tests/fixtures/images/athena/v1.0.0", dir_.Path("athena"),
                        std::filesystem::copy_options::recursive);
  dir_.Write("upgrades/athena.yaml", "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: athena}\n"
                                     "spec:\n  targetVersion: v1.0.0\n  database: {dsnFrom: {env: X}}\n"
                                     "  migrations: {engine: drizzle, path: ../athena}\n");
  Git(repo_, {"add", "-A"});
  Git(repo_, {"commit", "-q", "-m", "athena v1.0.0"});
  std::filesystem::remove_all(dir_.Path("athena"));
  std::filesystem::copy(std::string(src) + "/tests/fixtures/images/athena/v1.1.0", dir_.Path("athena"),
                        std::filesystem::copy_options::recursive);
  dir_.Write("upgrades/athena.yaml", "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: athena}\n"
                                     "spec:\n  targetVersion: v1.1.0\n  database: {dsnFrom: {env: X}}\n"
                                     "  migrations: {engine: drizzle, path: ../athena}\n");
  InDir in(repo_);
  auto prev = OpenPreviousSource("HEAD", LocalFileSystem(), PosixProcessRunner(), scratch_.path());
  ASSERT_TRUE(prev.ok());
  auto r = PlanOffline(Load("upgrades/athena.yaml"), prev->get(), Options(scratch_));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->plan.state.pending.size(), 2u) << "v1.1.0 adds 2 journal entries to v1.0.0's 2";
  EXPECT_EQ(r->plan.state.applied.size(), 2u);
  for (const auto& m : r->plan.state.pending) EXPECT_FALSE(m.statements.empty()) << m.version;
}

TEST(OfflineOryTest, MigrationsComeFromTheLocalImagesOrAreSaidUnknown) {
  ASSERT_TRUE(BuildFixtureImages().ok());
  setenv("CONTAINERS_CONF", TestContainersConf().c_str(), 1);
  TempDir dir, scratch;
  auto manifest = [](const std::string& v) {
    return "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: kratos, namespace: ciam}\n"
           "spec:\n  targetVersion: " + v + "\n  image: localhost/oryd/kratos:" + v +
           "\n  database: {dsnFrom: {env: KRATOS_DSN}}\n  migrations: {engine: ory}\n";
  };
  dir.Write("previous/kratos.yaml", manifest("v1.1.0"));
  dir.Write("current/kratos.yaml", manifest("v1.2.0"));
  InDir in(dir.Path("current"));
  auto prev = OpenPreviousSource(dir.Path("previous"), LocalFileSystem(), PosixProcessRunner(), scratch.path());
  ASSERT_TRUE(prev.ok()) << prev.status().ToString();
  auto r = PlanOffline(Load("kratos.yaml"), prev->get(), Options(scratch));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->migrations_known);
  EXPECT_EQ(Versions(r->plan), (std::vector<std::string>{"20240301000001000000", "20240301000002000000",
                                                         "20240301000003000000"}));
  for (const auto& m : r->plan.state.pending) EXPECT_FALSE(m.statements.empty()) << m.version;
  EXPECT_EQ(r->plan.state.pending[0].file.rfind("localhost/oryd/kratos:v1.2.0:/migrations/", 0), 0u)
      << r->plan.state.pending[0].file;

  // An image that is not here: nothing guessed, the comment says the migrations are unknown.
  dir.Write("current/kratos.yaml", manifest("v9.9.9"));
  auto u = PlanOffline(Load("kratos.yaml"), prev->get(), Options(scratch));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->migrations_known);
  EXPECT_TRUE(u->plan.state.pending.empty());
  std::string md = RenderPlanComment(u->plan, u->comment);
  EXPECT_NE(md.find("ory migrations unknown offline"), std::string::npos) << md;
  EXPECT_NE(md.find("localhost/oryd/kratos:v9.9.9 is not present locally"), std::string::npos) << md;
}

}  // namespace
}  // namespace su::testing
