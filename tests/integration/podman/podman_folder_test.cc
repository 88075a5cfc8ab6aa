// spec.migrations.source image in the Podman mode, with real podman and the Athena fixture image
// (its Drizzle folder at /migrations): the folder is copied out with podman create / cp / rm, the
// drizzle engine migrates a real PostgreSQL from it, and drizzle.__drizzle_migrations holds exactly
// the rows the same folder read from disk gives. No container of the read is left behind, on
// success or on a folder the image does not have.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>

#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/runtimes/podman/podman_folder_reader.h"
#include "tests/support/pg_server.h"
#include "tests/support/podman/local_podman.h"

namespace su {
namespace {

std::string SourceDir() { return std::getenv("SU_SOURCE_DIR") ? std::getenv("SU_SOURCE_DIR") : "."; }

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

// Containers this process's reads created (named su-read-<pid>-N), still present.
std::string OurReadContainers(const PodmanConfig& c) {
  ProcessSpec p;
  p.argv = {"podman", "ps", "-a", "--format", "{{.Names}}", "--filter", "name=^su-read-" + std::to_string(getpid()) + "-"};
  p.env = c.env;
  p.timeout = std::chrono::minutes(1);
  auto r = PosixProcessRunner()->Run(p);
  EXPECT_TRUE(r.ok() && r->Succeeded());
  return r.ok() ? r->out : "?";
}

SchemaUpgrade Athena(const std::string& path) {
  SchemaUpgrade su;
  su.namespace_ = "default";
  su.name = "athena";
  su.target_version = "v1.1.0";
  su.image = "localhost/olympus/athena:v1.1.0";
  su.migrations.engine = "drizzle";
  su.migrations.source = kMigrationSourceImage;
  su.migrations.path = path;
  return su;
}

TEST(PodmanFolderTest, ImageSourceMigratesExactlyTheTargetsRowsAndLeavesNoContainer) {
  ASSERT_TRUE(su::testing::BuildFixtureImages().ok());
  PodmanConfig c;
  c.env["CONTAINERS_CONF"] = su::testing::TestContainersConf();
  c.pull = "never";
  su::testing::PgServer& pg = su::testing::PgServer::Shared();

  // The reference: the fixture's own folder from disk (source controller).
  SchemaUpgrade ref = Athena(SourceDir() + "/tests/fixtures/images/athena/v1.1.0");
  ref.migrations.source = kMigrationSourceController;
  const std::string ref_dsn = pg.CreateDatabase("podsrcref");
  auto ref_db = ConnectPostgres(ref_dsn, "podman-folder-test");
  ASSERT_TRUE(ref_db.ok());
  auto ref_engine = MakeEngine(ref, ref_dsn, "", LocalFileSystem(), nullptr);
  ASSERT_TRUE(ref_engine.ok()) << ref_engine.status().ToString();
  ASSERT_TRUE((*ref_engine)->Apply(ref_db->get(), RunContext{}).status.ok());
  const std::string expected = Rows(ref_db->get());
  ASSERT_FALSE(expected.empty());

  auto reader = NewPodmanFolderReader(PosixProcessRunner(), c);
  SchemaUpgrade su = Athena("/migrations");
  const std::string dsn = pg.CreateDatabase("podsrc");
  auto engine = MakeEngineForSource(su, dsn, su.image, LocalFileSystem(), nullptr, reader.get());
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  EXPECT_EQ(OurReadContainers(c), "");
  auto db = ConnectPostgres(dsn, "podman-folder-test");
  ASSERT_TRUE(db.ok());
  auto st = (*engine)->Observe(db->get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->pending.size(), 4u);
  EXPECT_EQ(st->pending[0].file, "image:localhost/olympus/athena:v1.1.0:/migrations/0000_init_tenants_users.sql");
  ASSERT_FALSE(st->notes.empty());
  EXPECT_EQ(st->notes.back().rfind("migration files read from image:localhost/olympus/athena:v1.1.0:/migrations "
                                   "(spec.migrations.source): 5 file(s)", 0), 0u)
      << st->notes.back();
  RunReport rep = (*engine)->Apply(db->get(), RunContext{});
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  EXPECT_EQ(Rows(db->get()), expected);

  // A folder the image does not have: a clear error naming the field, and still no container.
  auto missing = MakeEngineForSource(Athena("/app/drizzle"), dsn, su.image, LocalFileSystem(), nullptr, reader.get());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("spec.migrations.path"), std::string::npos) << missing.status().message();
  EXPECT_EQ(OurReadContainers(c), "");

  // An image that is not there: kNotFound, no container.
  SchemaUpgrade absent = Athena("/migrations");
  absent.image = "localhost/mig-source-test/absent:v0";
  auto none = MakeEngineForSource(absent, dsn, absent.image, LocalFileSystem(), nullptr, reader.get());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound) << none.status().ToString();
  EXPECT_EQ(OurReadContainers(c), "");
}

TEST(PodmanFolderTest, ConfigMapSourceIsRefusedNamingTheField) {
  auto reader = NewPodmanFolderReader(PosixProcessRunner(), PodmanConfig{});
  SchemaUpgrade su = Athena("");
  su.migrations.source = kMigrationSourceConfigMap;
  su.migrations.config_map_name = "athena-migrations";
  auto engine = MakeEngineForSource(su, "", su.image, LocalFileSystem(), nullptr, reader.get());
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), Code::kInvalidArgument);
  EXPECT_NE(engine.status().message().find("spec.migrations.source configMap"), std::string::npos)
      << engine.status().message();
}

}  // namespace
}  // namespace su
