// spec.dependsOn through `schema-upgrade controller` in folder mode on a real PostgreSQL (issue 11,
// "Athena waiting for Kratos"): athena depends on kratos; while kratos does not exist athena waits
// (WaitingForDependency, nothing applied); once kratos's manifest appears, kratos is migrated and
// Ready first and athena's migrations start only after kratos's finished (the audit rows' times,
// one server, one clock). A kratos Ready at its old target still holds athena's next upgrade back.
// sql engine, no workload. Every wait polls the status files with a bound.
#include <gtest/gtest.h>

#include "tests/integration/controller/controller_world.h"

namespace su::testing {
namespace {

constexpr const char* kV1 = "20260101000001";
constexpr const char* kV2 = "20260101000002";

std::string AfterKratos() { return "  dependsOn:\n    - name: kratos\n"; }

bool Waiting(const ResourceStatus& s) {
  const Condition* ready = FindCondition(s, "Ready");
  return s.phase == Phase::kWaiting && ready && ready->reason == "WaitingForDependency";
}

TEST(ControllerDependsOnTest, AthenaWaitsForKratosThenMigratesAfterIt) {
  ControllerWorld w;
  for (const std::string n : {"kratos", "athena"}) {
    w.AddDatabase(n);
    // pg_sleep: the migration lasts long enough that overlapping runs could not hide in one tick.
    w.AddMigration(n, kV1, "CREATE TABLE " + n + "_things (id int PRIMARY KEY);\nSELECT pg_sleep(0.5);\n");
  }
  w.WriteManifestFile("athena.yaml", w.Manifest("athena", "v1") + AfterKratos());
  w.Start({"--workers", "2", "--resync", "10m"});
  std::string why;

  // kratos does not exist yet: a wait with a clear message, not an error; nothing applied.
  ASSERT_TRUE(w.WaitFor("athena", Waiting, &why)) << why;
  auto st = w.LoadStatus("athena");
  ASSERT_TRUE(st);
  EXPECT_NE(st->message.find("SchemaUpgrade ctrl/kratos (spec.dependsOn[0].name), which does not exist"), std::string::npos)
      << st->message;
  EXPECT_EQ(w.Sql1("athena", "SELECT (to_regclass('schema_migration') IS NULL)::text"), "true");  // no history table: nothing ran

  // kratos appears: it goes first; athena follows on a later requeue.
  w.WriteManifestFile("kratos.yaml", w.Manifest("kratos", "v1"));
  ASSERT_TRUE(w.WaitSucceeded("kratos", "v1", &why)) << why;
  ASSERT_TRUE(w.WaitSucceeded("athena", "v1", &why)) << why;
  EXPECT_EQ(w.HistoryCounts("kratos"), std::string(kV1) + ":1");
  EXPECT_EQ(w.HistoryCounts("athena"), std::string(kV1) + ":1");
  // Order: athena's first migration started after kratos's last one finished (same server clock).
  const std::string kratos_done =
      w.Sql1("kratos", "SELECT max(finished_at)::text FROM schema_upgrade_log WHERE direction = 'up'");
  const std::string athena_start =
      w.Sql1("athena", "SELECT min(started_at)::text FROM schema_upgrade_log WHERE direction = 'up'");
  ASSERT_FALSE(kratos_done.empty());
  ASSERT_FALSE(athena_start.empty());
  EXPECT_EQ(w.Sql1("athena", "SELECT ('" + athena_start + "'::timestamptz > '" + kratos_done + "'::timestamptz)::text"),
            "true")
      << "athena started at " << athena_start << ", kratos finished at " << kratos_done;

  // Both move to v2, athena's manifest first: kratos Ready at its OLD target (v1) holds athena back
  // until kratos is Ready at v2.
  w.AddMigration("kratos", kV2, "ALTER TABLE kratos_things ADD COLUMN note text;\nSELECT pg_sleep(0.5);\n");
  w.AddMigration("athena", kV2, "ALTER TABLE athena_things ADD COLUMN note text;\n");
  w.WriteManifestFile("athena.yaml", w.Manifest("athena", "v2") + AfterKratos());
  w.WriteManifestFile("kratos.yaml", w.Manifest("kratos", "v2"));
  ASSERT_TRUE(w.WaitSucceeded("kratos", "v2", &why)) << why;
  ASSERT_TRUE(w.WaitSucceeded("athena", "v2", &why)) << why;
  const std::string kratos_v2_done = w.Sql1(
      "kratos", "SELECT finished_at::text FROM schema_upgrade_log WHERE direction = 'up' AND version = '" +
                    std::string(kV2) + "' ORDER BY id DESC LIMIT 1");
  const std::string athena_v2_start = w.Sql1(
      "athena", "SELECT started_at::text FROM schema_upgrade_log WHERE direction = 'up' AND version = '" +
                    std::string(kV2) + "' ORDER BY id LIMIT 1");
  ASSERT_FALSE(kratos_v2_done.empty());
  ASSERT_FALSE(athena_v2_start.empty());
  EXPECT_EQ(w.Sql1("athena", "SELECT ('" + athena_v2_start + "'::timestamptz > '" + kratos_v2_done +
                                  "'::timestamptz)::text"),
            "true")
      << "athena v2 started at " << athena_v2_start << ", kratos v2 finished at " << kratos_v2_done;

  auto end = w.Terminate();
  ASSERT_TRUE(end.has_value()) << w.process()->LogTail();
  EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe();
}

TEST(ControllerDependsOnTest, ACycleIsReportedOnEachMemberAndNothingRuns) {
  ControllerWorld w;
  for (const std::string n : {"kratos", "athena"}) {
    w.AddDatabase(n);
    w.AddMigration(n, kV1, "CREATE TABLE " + n + "_things (id int PRIMARY KEY);\n");
  }
  w.WriteManifestFile("athena.yaml", w.Manifest("athena", "v1") + AfterKratos());
  w.WriteManifestFile("kratos.yaml", w.Manifest("kratos", "v1") + "  dependsOn:\n    - name: athena\n");
  w.Start({"--workers", "2", "--resync", "10m"});
  std::string why;
  auto cycle = [](const ResourceStatus& s) {
    const Condition* stalled = FindCondition(s, "Stalled");
    return s.phase == Phase::kFailed && stalled && stalled->reason == "DependencyCycle";
  };
  ASSERT_TRUE(w.WaitFor("athena", cycle, &why)) << why;
  ASSERT_TRUE(w.WaitFor("kratos", cycle, &why)) << why;
  EXPECT_NE(w.LoadStatus("athena")->last_error.find("ctrl/athena -> ctrl/kratos -> ctrl/athena"), std::string::npos)
      << w.LoadStatus("athena")->last_error;
  EXPECT_NE(w.LoadStatus("kratos")->last_error.find("ctrl/kratos -> ctrl/athena -> ctrl/kratos"), std::string::npos)
      << w.LoadStatus("kratos")->last_error;
  EXPECT_EQ(w.Sql1("athena", "SELECT (to_regclass('schema_migration') IS NULL)::text"), "true");
  EXPECT_EQ(w.Sql1("kratos", "SELECT (to_regclass('schema_migration') IS NULL)::text"), "true");

  // kratos's edit breaks the cycle: kratos runs, then athena (whose spec did not change).
  w.WriteManifestFile("kratos.yaml", w.Manifest("kratos", "v1"));
  ASSERT_TRUE(w.WaitSucceeded("kratos", "v1", &why)) << why;
  ASSERT_TRUE(w.WaitSucceeded("athena", "v1", &why)) << why;
  auto end = w.Terminate();
  ASSERT_TRUE(end.has_value()) << w.process()->LogTail();
}

}  // namespace
}  // namespace su::testing
