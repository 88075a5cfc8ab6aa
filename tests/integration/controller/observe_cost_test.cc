// What a reconcile pass over a resource already at its target costs the database (issue 10), on
// a real PostgreSQL with pg_stat_statements: the controller's wiring (session pool, observation
// cache, sql engine, folder status store) driven pass by pass, the statements counted by the
// server and the round trips by libpq's side (PostgresRoundTrips).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/log.h"
#include "reconcilers/database/database.h"
#include "reconcilers/database/session_pool.h"
#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/schemaupgrade/observation_cache.h"
#include "reconcilers/schemaupgrade/reconciler.h"
#include "reconcilers/schemaupgrade/status_store.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

class ObserveCostTest : public ::testing::Test {
 protected:
  static PgServer& Server() {
    // Its own server: pg_stat_statements must be preloaded, and no other test's statements count.
    static PgServer* s = new PgServer({"shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all",
                                       "pg_stat_statements.track_utility=on"});
    return *s;
  }

  void SetUp() override {
    SetLogLevel(LogLevel::kError);
    admin_ = std::move(ConnectPostgres(Server().Dsn(), "observe-cost-admin")).value();
    ASSERT_TRUE(admin_->Exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").ok());
    dsn_ = Server().CreateDatabase("cost");
    db_name_ = PgServer::DbNameOf(dsn_);
    dir_.Write("migrations/20260101000001_things.up.sql", "CREATE TABLE things (id int);\n");
    dir_.Write("migrations/20260101000002_more.up.sql", "ALTER TABLE things ADD COLUMN name text;\n");
    su_.name = "app";
    su_.namespace_ = "cost";
    su_.generation = 1;
    su_.service = "app";
    su_.target_version = "v2";
    su_.dsn.kind = DsnSource::Kind::kEnv;
    su_.dsn.env = "COST_DSN";
    su_.migrations.engine = "sql";
    su_.migrations.path = dir_.Path("migrations");
    su_.spec_hash = "spec-1";

    SessionPoolOptions po;
    po.open = [](const std::string& dsn, const std::string& app) { return ConnectPostgres(dsn, app); };
    pool_ = std::make_unique<SessionPool>(po);
    store_ = NewDirStatusStore(LocalFileSystem(), dir_.Path("state"));
  }

  ReconcileOutcome Pass(ObservationCache* cache = nullptr, bool observe_after_change = false) {
    ReconcilerDeps d;
    d.store = store_.get();
    d.connect = [this](const std::string& dsn, const std::string& app) { return pool_->Acquire(dsn, app); };
    d.make_engine = [](const SchemaUpgrade& su, const std::string& dsn, const std::string& image) {
      return MakeEngine(su, dsn, image, LocalFileSystem(), nullptr);
    };
    d.getenv = [this](const char* name) -> const char* {
      return std::string(name) == "COST_DSN" ? dsn_.c_str() : nullptr;
    };
    d.observations = cache != nullptr ? cache : &cache_;
    d.observe_after_change = observe_after_change;
    return Reconciler(d).Reconcile(su_, seed_);
  }

  // Statements the server ran in the test's database since the last Reset (the admin session
  // lives in another database).
  long long Statements() {
    auto r = admin_->Query(
        "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
        "WHERE datname = $1)",
        {db_name_});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::atoll(r->Get(0, 0).c_str()) : -1;
  }
  void Reset() { ASSERT_TRUE(admin_->Exec("SELECT pg_stat_statements_reset()").ok()); }
  std::string StatusFile() const { return dir_.Path("state/cost__app.json"); }

  std::unique_ptr<Database> admin_;
  std::string dsn_, db_name_;
  TempDir dir_;
  SchemaUpgrade su_;
  std::unique_ptr<SessionPool> pool_;
  std::unique_ptr<StatusStore> store_;
  ObservationCache cache_;
  ReconcileOptions seed_{.seed_status = true};
};

// Issue 10 item: a no-op pass used to cost four round trips (the pool named the reused session,
// the pass marked interrupted audit rows with the identity query, read the history, and the
// pool reset the session with ten statements), and wrote its status file (an fsync). Now it is
// one statement in one round trip, and no status write.
TEST_F(ObserveCostTest, APassOverAResourceAtItsTargetCostsOneRoundTripAndWritesNothing) {
  auto first = Pass();
  ASSERT_TRUE(first.result.ok()) << first.result.ToString();
  ASSERT_EQ(first.migrations_applied, 2);
  ASSERT_TRUE(Pass().result.ok());  // at target: observes in full, fills the cache
  struct stat before {};
  ASSERT_EQ(stat(StatusFile().c_str(), &before), 0);

  Reset();
  long long trips = PostgresRoundTrips();
  const int passes = 5;
  for (int i = 0; i < passes; ++i) {
    auto out = Pass();
    ASSERT_TRUE(out.result.ok()) << out.result.ToString();
    ASSERT_EQ(out.status.phase, Phase::kSucceeded);
  }
  long long client_trips = PostgresRoundTrips() - trips;
  long long server_statements = Statements();

  EXPECT_EQ(client_trips, passes) << "round trips for " << passes << " no-op passes";
  EXPECT_EQ(server_statements, passes) << "statements the server ran for " << passes << " no-op passes";
  EXPECT_EQ(cache_.hits(), passes);
  struct stat after {};
  ASSERT_EQ(stat(StatusFile().c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "the status file was rewritten (replaced) by a no-op pass";
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
}

// The cache never hides a change: a migration added to the folder, the history changed behind
// the controller's back, or a failed pass: the next pass reads in full and sees it.
TEST_F(ObserveCostTest, AChangeToTheFolderOrTheHistoryIsSeenByTheNextPass) {
  ASSERT_TRUE(Pass().result.ok());
  ASSERT_TRUE(Pass().result.ok());
  ASSERT_TRUE(Pass().result.ok());
  ASSERT_EQ(cache_.hits(), 1);

  // Someone rolls the last migration back by hand (history row deleted): pending again.
  auto db = std::move(ConnectPostgres(dsn_, "observe-cost-hand")).value();
  ASSERT_TRUE(db->Exec("ALTER TABLE things DROP COLUMN name").ok());
  ASSERT_TRUE(db->Exec("DELETE FROM schema_migration WHERE version = '20260101000002'").ok());
  auto out = Pass();
  ASSERT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(out.migrations_applied, 1) << "the history changed: observed in full, re-applied";
  EXPECT_EQ(cache_.hits(), 1);

  // A new file in the folder.
  ASSERT_TRUE(Pass().result.ok());  // fills the cache again
  dir_.Write("migrations/20260101000003_third.up.sql", "ALTER TABLE things ADD COLUMN third int;\n");
  out = Pass();
  ASSERT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(out.migrations_applied, 1) << "the new file was seen";
  EXPECT_EQ(db->Query("SELECT count(*) FROM schema_migration")->Get(0, 0), "3");

  // An applied file edited in place (drift): refused, and the cache forgets the resource.
  ASSERT_TRUE(Pass().result.ok());
  dir_.Write("migrations/20260101000001_things.up.sql", "CREATE TABLE things (id bigint);\n");
  out = Pass();
  EXPECT_FALSE(out.result.ok()) << "an edited applied file must be seen as drift";
  EXPECT_EQ(cache_.size(), 0u);
}

// The history's mark moves with any write to the history, also one that keeps every row count:
// a recorded checksum changed by hand is drift at the next pass, not a cache hit.
TEST_F(ObserveCostTest, AHistoryRowChangedInPlaceIsSeenByTheNextPass) {
  ASSERT_TRUE(Pass().result.ok());  // applies
  ASSERT_TRUE(Pass().result.ok());  // observes in full, fills the cache
  ASSERT_TRUE(Pass().result.ok());
  ASSERT_EQ(cache_.hits(), 1);
  auto db = std::move(ConnectPostgres(dsn_, "observe-cost-hand")).value();
  ASSERT_TRUE(db->Exec("UPDATE schema_upgrade_checksum SET checksum = repeat('0', 64) WHERE version = "
                       "'20260101000001'").ok());
  auto out = Pass();
  EXPECT_FALSE(out.result.ok()) << "a recorded checksum that no longer matches its file must be seen as drift";
  EXPECT_NE(out.status.message.find("20260101000001"), std::string::npos) << out.status.message;
  EXPECT_EQ(cache_.hits(), 1);
}

// `apply` keeps its observations in a file between runs (ObservationCache::Save/Load): the next
// process answers a pass over a resource at its target with one round trip, as the controller
// does, and a change to the history made between two runs is still seen.
TEST_F(ObserveCostTest, ObservationsKeptInAFileServeTheNextRun) {
  ASSERT_TRUE(Pass().result.ok());  // applies
  ASSERT_TRUE(Pass().result.ok());  // observes in full, fills the cache
  const std::string file = dir_.Path("state/observations");
  ASSERT_TRUE(cache_.Save(LocalFileSystem(), file, "this-build").ok());
  {
    ObservationCache next;
    next.Load(LocalFileSystem(), file, "this-build");
    Reset();
    long long trips = PostgresRoundTrips();
    auto out = Pass(&next);
    ASSERT_TRUE(out.result.ok()) << out.result.ToString();
    EXPECT_EQ(out.status.phase, Phase::kSucceeded);
    EXPECT_EQ(out.status.current_version, "20260101000002");
    EXPECT_EQ(next.hits(), 1);
    EXPECT_EQ(PostgresRoundTrips() - trips, 1);
    EXPECT_EQ(Statements(), 1);
    ASSERT_TRUE(next.Save(LocalFileSystem(), file, "this-build").ok());
  }

  // Between two runs someone rolls the last migration back by hand.
  auto db = std::move(ConnectPostgres(dsn_, "observe-cost-hand")).value();
  ASSERT_TRUE(db->Exec("ALTER TABLE things DROP COLUMN name").ok());
  ASSERT_TRUE(db->Exec("DELETE FROM schema_migration WHERE version = '20260101000002'").ok());
  ObservationCache third;
  third.Load(LocalFileSystem(), file, "this-build");
  auto out = Pass(&third);
  ASSERT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_EQ(out.migrations_applied, 1) << "the history changed: observed in full, re-applied";
  EXPECT_EQ(third.hits(), 0);
}

// With observe_after_change (the CLI), the pass that applied observes once more: the very next
// pass is a hit (one round trip), and what it was given is the database as the apply left it.
TEST_F(ObserveCostTest, APassThatAppliedLeavesItsFinalObservationWhenAsked) {
  auto first = Pass(nullptr, /*observe_after_change=*/true);
  ASSERT_TRUE(first.result.ok()) << first.result.ToString();
  ASSERT_EQ(first.migrations_applied, 2);
  EXPECT_EQ(cache_.size(), 1u);
  Reset();
  long long trips = PostgresRoundTrips();
  auto next = Pass();
  ASSERT_TRUE(next.result.ok()) << next.result.ToString();
  EXPECT_EQ(cache_.hits(), 1);
  EXPECT_EQ(PostgresRoundTrips() - trips, 1);
  EXPECT_EQ(next.status.current_version, "20260101000002");
  ASSERT_TRUE(next.plan.has_value());
  EXPECT_EQ(next.plan->state.applied.size(), 2u);
  EXPECT_TRUE(next.plan->state.pending.empty());

  // Without it (the controller), the pass after an apply reads in full.
  dir_.Write("migrations/20260101000003_third.up.sql", "ALTER TABLE things ADD COLUMN third int;\n");
  ASSERT_EQ(Pass().migrations_applied, 1);
  EXPECT_EQ(cache_.size(), 0u);
}

}  // namespace
}  // namespace su::testing
