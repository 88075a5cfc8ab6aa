// The Athena stand-in images against folders applied by our drizzle engine: the image's `serve`
// accepts exactly the history drizzle-orm would write (hash + journal `when`), so the fixture and the
// engine agree on the format, and an upgrade without migrating is refused with "schema mismatch".
#include <gtest/gtest.h>

#include <cstdlib>

#include "reconcilers/base/fs.h"
#include "reconcilers/engines/drizzle/drizzle_engine.h"
#include "tests/support/podman/local_podman.h"
#include "tests/support/pg_server.h"

namespace su {
namespace {

std::string AthenaFolder(const std::string& version) {
  const char* d = std::getenv("SU_SOURCE_DIR");
  return std::string(d ? d : ".") + "/tests/fixtures/images/athena/" + version;
}

TEST(AthenaFixture, ServeAcceptsOnlyAFullyMigratedDrizzleHistory) {
  ASSERT_TRUE(testing::BuildFixtureImages().ok());
  std::string dsn = testing::PgServer::Shared().CreateDatabase("athena");
  auto db = ConnectPostgres(dsn, "athena-it");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  testing::LocalPodman rt;
  auto status_of = [&](const std::string& tag) {
    ContainerRunSpec spec;
    spec.image = "localhost/olympus/athena:" + tag;
    spec.args = {"status"};
    spec.env["DATABASE_URL"] = dsn;
    auto r = rt.RunOnce(spec);
    EXPECT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? r->Tail() : r.status().ToString());
    return r.ok() ? r->out : "";
  };

  auto v100 = NewDrizzleEngine(LocalFileSystem(), AthenaFolder("v1.0.0"))->Apply(db->get(), RunContext{});
  ASSERT_TRUE(v100.status.ok()) << v100.status.ToString();
  EXPECT_EQ(status_of("v1.0.0"), "0000_init_tenants_users Applied\n0001_projects Applied\n");

  // v1.1.0 before its migrations ran: the forgotten-migration failure.
  ContainerRunSpec serve;
  serve.image = "localhost/olympus/athena:v1.1.0";
  serve.env["DATABASE_URL"] = dsn;
  auto refused = rt.RunOnce(serve);
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->exit_code, 1);
  EXPECT_NE(refused->err.find("schema mismatch"), std::string::npos) << refused->Tail();
  EXPECT_NE(refused->err.find("0002_audit_events, 0003_users_last_login"), std::string::npos) << refused->Tail();

  auto v110 = NewDrizzleEngine(LocalFileSystem(), AthenaFolder("v1.1.0"))->Apply(db->get(), RunContext{});
  ASSERT_TRUE(v110.status.ok()) << v110.status.ToString();
  EXPECT_EQ(v110.steps.size(), 2u);
  EXPECT_EQ(status_of("v1.1.0"),
            "0000_init_tenants_users Applied\n0001_projects Applied\n0002_audit_events Applied\n"
            "0003_users_last_login Applied\n");
}

}  // namespace
}  // namespace su
