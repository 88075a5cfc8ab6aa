// The ory engine with the migration Job runtime: a real PostgreSQL for the history and audit
// tables, the API server emulator's Job controller and simulated kubelet running the "migrator"
// (its image rule: exit 1 with log lines). A failed run's error (what the reconciler puts in
// status.lastError and the Warning Event) quotes the log lines and names the Job; the Job carries
// the DSN only as a Secret reference.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "kube/api.h"
#include "reconcilers/database/database.h"
#include "reconcilers/engines/ory/ory_engine.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using web::json::value;

TEST(OryJobTest, FailedMigrationJobPutsItsLogLinesAndNameInTheError) {
  su::testing::PgServer& pg = su::testing::PgServer::Shared();
  const std::string dsn = pg.CreateDatabase("oryjob");
  su::testing::KubeEmulator emu;
  emu.Start();
  su::testing::TempDir tmp;
  std::ofstream(tmp.Path("rules.json"))
      << R"({"rules":[{"image":"kratos-broken","behavior":"exit","exitCode":1,"log":)"
      << R"("time=1 level=info msg=\"Applying migration 20200519101057000000 identity_credentials\"\n)"
      << R"(time=2 level=error msg=\"ERROR: relation \\\"identity_credentials\\\" already exists (SQLSTATE 42P07)\"\n"}]})";
  emu.Kubectl({"create", "--raw", "/emulator/images", "-f", tmp.Path("rules.json")});
  auto api = emu.Client();
  ASSERT_TRUE(api);
  // A real owner: the emulator's garbage collector deletes Jobs whose owner does not exist.
  emu.ApplyCrd();
  emu.Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
  auto owner = api->Create(kube::ResourcePath{{"olympus.io", "v1alpha1", "schemaupgrades", true}, "default"},
                           su::testing::SchemaUpgradeJson("kratos", "v1.2.0"));
  ASSERT_TRUE(owner.ok()) << owner.error().Describe();

  KubeJobOptions jo;
  jo.api = api.get();
  jo.ns = "default";
  jo.name = "kratos";
  jo.uid = value::parse(*owner).at("metadata").at("uid").as_string();
  jo.poll_interval = std::chrono::milliseconds(50);
  auto rt = NewKubeJobRuntime(jo);
  OryEngineOptions o;
  o.image = "localhost/kratos-broken:v1.2.0";
  o.up_command = {"kratos", "migrate", "sql", "up", "-e", "--yes"};
  o.dsn = dsn;
  o.dsn_secret_name = "kratos-db";
  o.dsn_secret_key = "dsn";
  auto engine = NewOryEngine(rt.get(), o);

  auto db = ConnectPostgres(dsn, "oryjob-test");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  RunContext ctx;
  ctx.resource = "default/kratos";
  RunReport rep = engine->Apply(db->get(), ctx);
  ASSERT_FALSE(rep.status.ok());
  EXPECT_EQ(rep.status.code(), Code::kFailed) << rep.status.ToString();
  const std::string& m = rep.status.message();
  EXPECT_NE(m.find("exited with code 1"), std::string::npos) << m;
  EXPECT_NE(m.find("Last output:"), std::string::npos) << m;
  EXPECT_NE(m.find("already exists (SQLSTATE 42P07)"), std::string::npos) << m;
  EXPECT_NE(m.find("kubectl logs job/su-kratos-"), std::string::npos) << m;
  EXPECT_EQ(m.find(pg.password()), std::string::npos) << "the DSN password in the error";

  // The failed up Job stays (for its TTL), with the DSN as a Secret reference only.
  kube::ListOptions lo;
  lo.label_selector = std::string(kJobResourceLabel) + "=kratos";
  auto jobs = api->List(kube::ResourcePath{kJobs, "default"}, lo);
  ASSERT_TRUE(jobs.ok()) << jobs.error().Describe();
  ASSERT_FALSE(jobs->items.empty());
  bool up_found = false;
  for (const auto& j : jobs->items) {
    EXPECT_EQ(j.find(pg.password()), std::string::npos) << j;
    EXPECT_EQ(j.find("postgres://"), std::string::npos) << j;
    value job = value::parse(j);
    const value& c = job.at("spec").at("template").at("spec").at("containers").at(0);
    if (c.at("args").serialize().find("\"up\"") == std::string::npos) continue;
    up_found = true;
    const value& env = c.at("env").at(0);
    EXPECT_EQ(env.at("name").as_string(), "DSN");
    EXPECT_EQ(env.at("valueFrom").at("secretKeyRef").at("name").as_string(), "kratos-db");
  }
  EXPECT_TRUE(up_found);

  // Deleted with its SchemaUpgrade (ownerReference; the emulator's garbage collector).
  emu.Kubectl({"delete", "su", "kratos", "-n", "default", "--wait=false"});
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (true) {
    auto left = api->List(kube::ResourcePath{kJobs, "default"}, lo);
    ASSERT_TRUE(left.ok()) << left.error().Describe();
    if (left->items.empty()) break;
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "the Jobs outlived their SchemaUpgrade";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval of the condition
  }
}

}  // namespace
}  // namespace su
