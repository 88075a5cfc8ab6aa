// A reconcile pass over a resource already at its target, on a real server: it costs one session
// and two round trips (the audit bookkeeping with the database identity, and the history read),
// reads no migration file again in the same process, and opens no watch session.
#include <gtest/gtest.h>

#include "tests/integration/policies/policy_harness.h"
#include "tests/support/fakes/counting.h"
#include "reconcilers/engines/factory/factory.h"

namespace su::testing {
namespace {

TEST(NoOpPassCost, APassAtTargetIsOneSessionAndTwoRoundTripsAndReadsNoFile) {
  PolicyHarness h("noop_cost");
  for (int i = 1; i <= 30; ++i) {
    char v[8];
    std::snprintf(v, sizeof v, "%03d", i);
    h.WriteMigration(v, "t" + std::to_string(i), "CREATE TABLE t" + std::to_string(i) + " (id int);\n");
  }
  ReconcilerDeps deps = h.Deps();
  auto log = std::make_shared<SqlLog>();
  int sessions = 0;
  auto connect = deps.connect;
  deps.connect = [connect, log, &sessions](const std::string& dsn, const std::string& app)
      -> Result<std::unique_ptr<Database>> {
    ++sessions;
    SU_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, connect(dsn, app));
    return std::unique_ptr<Database>(new CountingDatabase(std::move(db), log));
  };
  CountingFileSystem fs(LocalFileSystem());
  deps.fs = &fs;
  deps.make_engine = [&fs](const SchemaUpgrade& su, const std::string& dsn, const std::string& image) {
    return MakeEngine(su, dsn, image, &fs, nullptr);
  };
  Reconciler r(deps);
  auto su = h.Manifest("app", "030", "");
  auto first = h.Reconcile(r, su);
  ASSERT_EQ(first.status.phase, Phase::kSucceeded) << first.status.message;
  auto is_sql = [](const std::string& p) { return p.size() > 4 && p.substr(p.size() - 4) == ".sql"; };
  auto before = fs.all_reads();
  int sql_reads = 0;
  for (const auto& [path, n] : before) sql_reads += is_sql(path) ? n : 0;
  EXPECT_EQ(sql_reads, 30) << "the apply pass read each file once";

  log->Reset();
  sessions = 0;
  auto again = h.Reconcile(r, su);
  ASSERT_EQ(again.status.phase, Phase::kSucceeded) << again.status.message;
  EXPECT_EQ(sessions, 1);
  EXPECT_LE(log->round_trips(), 2) << ::testing::PrintToString(log->sent());
  // The files were read by the apply; the no-op pass only stats them.
  for (const auto& [path, n] : fs.all_reads()) {
    if (is_sql(path)) {
      EXPECT_EQ(n, before[path]) << path << " read again";
    }
  }
}

}  // namespace
}  // namespace su::testing
