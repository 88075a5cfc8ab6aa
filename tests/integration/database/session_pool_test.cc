// SessionPool against a real PostgreSQL: sessions are reused (same backend), reset between leases
// (settings, advisory locks), replaced when their backend died or the server restarted, discarded
// when returned unclean, closed when idle, and capped per database with waiting.
#include "reconcilers/database/session_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/pg_server.h"

namespace su {
namespace {

using std::chrono::milliseconds;
using su::testing::PgServer;

// Polls cond for up to 30 s (a loaded machine); the only kind of waiting these tests do.
template <typename F>
bool Eventually(F cond) {
  for (int i = 0; i < 3000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return cond();
}

SessionPoolOptions Options(int max = 2, milliseconds idle = std::chrono::minutes(10)) {
  SessionPoolOptions o;
  o.open = [](const std::string& dsn, const std::string& app) { return ConnectPostgres(dsn, app); };
  o.max_per_database = max;
  o.idle_timeout = idle;
  return o;
}

std::unique_ptr<Database> Lease(SessionPool& pool, const std::string& dsn, const std::string& app = "pool-test") {
  auto db = pool.Acquire(dsn, app);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

std::string One(Database* db, const std::string& sql) {
  auto r = db->Query(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  return r.ok() && !r->rows.empty() ? r->Get(0, 0) : "";
}

// A session outside the pool that watches what the server sees.
class Observer {
 public:
  explicit Observer(const std::string& dsn) : db_(std::move(ConnectPostgres(dsn, "pool-observer")).value()) {}
  bool BackendAlive(int pid) {
    return One(db_.get(), "SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid)) == "1";
  }
  int Sessions(const std::string& app_prefix) {
    return std::stoi(One(db_.get(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND application_name LIKE '" + app_prefix + "%'"));
  }
  int AdvisoryLocks(int pid) {
    return std::stoi(One(db_.get(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = " +
                                        std::to_string(pid)));
  }
  Database* db() { return db_.get(); }

 private:
  std::unique_ptr<Database> db_;
};

TEST(SessionPoolTest, TwoPassesShareOneBackendAndEachIsNamedForItsResource) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  SessionPool pool(Options());
  int pid;
  {
    auto a = Lease(pool, dsn, "schema-upgrade:ns/a");
    pid = a->BackendPid();
    EXPECT_EQ(One(a.get(), "SELECT current_setting('application_name')"), "schema-upgrade:ns/a");
  }
  {
    auto b = Lease(pool, dsn, "schema-upgrade:ns/b");
    EXPECT_EQ(b->BackendPid(), pid);
    // Reading leaves nothing behind: no round trip is spent naming the session for it...
    EXPECT_EQ(One(b.get(), "SELECT current_setting('application_name')"), kIdleSessionName);
    // ...and the first statement that can (a lock) names it, in the same round trip.
    long long trips = PostgresRoundTrips();
    EXPECT_EQ(One(b.get(), "SELECT pg_try_advisory_lock(4242)::text || current_setting('application_name')"),
              "trueschema-upgrade:ns/b");
    EXPECT_EQ(PostgresRoundTrips() - trips, 1);
  }
  EXPECT_EQ(pool.Stats().opened_total, 1);
  EXPECT_EQ(pool.Stats().reused_total, 1);
  EXPECT_EQ(pool.Stats().idle, 1);
  // Waiting in the pool, it says so in pg_stat_activity.
  Observer obs(dsn);
  EXPECT_EQ(One(obs.db(), "SELECT application_name FROM pg_stat_activity WHERE pid = " + std::to_string(pid)),
            kIdleSessionName);
}

// Issue 10: a reused session used to cost a round trip to name it and one (ten statements) to
// reset it, around a lease that only read. Now such a lease costs its own statements only, and
// the session goes back as it was (idle name, nothing held).
TEST(SessionPoolTest, ALeaseThatOnlyReadsCostsNoRoundTripOfThePools) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  SessionPool pool(Options());
  int pid;
  {
    auto warm = Lease(pool, dsn, "schema-upgrade:ns/a");  // opened now: named, reset once on return
    pid = warm->BackendPid();
    One(warm.get(), "SELECT 1");
  }
  long long trips = PostgresRoundTrips();
  for (int i = 0; i < 3; ++i) {
    auto b = Lease(pool, dsn, "schema-upgrade:ns/b");
    ASSERT_EQ(b->BackendPid(), pid);
    EXPECT_EQ(One(b.get(), "WITH x AS (SELECT 1 AS one) SELECT one FROM x"), "1");
  }
  EXPECT_EQ(PostgresRoundTrips() - trips, 3) << "one round trip per lease: its statement";
  Observer obs(dsn);
  EXPECT_EQ(One(obs.db(), "SELECT application_name FROM pg_stat_activity WHERE pid = " + std::to_string(pid)),
            kIdleSessionName);
  EXPECT_EQ(obs.AdvisoryLocks(pid), 0);
}

TEST(SessionPoolTest, SettingsOfOneLeaseDoNotLeakIntoTheNext) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  SessionPool pool(Options());
  int pid;
  std::string defaults;
  const std::string show =
      "SELECT current_setting('lock_timeout') || '|' || current_setting('statement_timeout') || '|' || "
      "current_setting('search_path') || '|' || current_user || '|' || "
      "(SELECT count(*) FROM pg_prepared_statements)";
  {
    auto a = Lease(pool, dsn);
    pid = a->BackendPid();
    defaults = One(a.get(), show);
    ASSERT_TRUE(a->ExecScript("DO $$BEGIN CREATE ROLE pool_other; EXCEPTION WHEN duplicate_object THEN NULL; END$$; SET lock_timeout = '1s'; SET statement_timeout = '5s'; "
                              "SET search_path = nowhere; SET ROLE pool_other; PREPARE p AS SELECT 1; "
                              "CREATE TEMP TABLE scratch(x int)").ok());
    EXPECT_NE(One(a.get(), show), defaults);
  }
  auto b = Lease(pool, dsn);
  ASSERT_EQ(b->BackendPid(), pid);
  EXPECT_EQ(One(b.get(), show), defaults);
  EXPECT_EQ(One(b.get(), "SELECT count(*) FROM pg_class WHERE relname = 'scratch' AND relpersistence = 't'"), "0");
}

TEST(SessionPoolTest, SessionAdvisoryLocksNeverSurviveAReturn) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  Observer obs(dsn);
  SessionPool pool(Options());
  int pid;
  {
    auto a = Lease(pool, dsn);
    pid = a->BackendPid();
    ASSERT_TRUE(a->Exec("SELECT pg_advisory_lock(42), pg_advisory_lock(42), pg_advisory_lock(7, 8)").ok());
    ASSERT_EQ(obs.AdvisoryLocks(pid), 2);  // the key held twice is one pg_locks row
  }
  // Back in the pool, the backend still lives and holds nothing.
  EXPECT_TRUE(obs.BackendAlive(pid));
  EXPECT_EQ(obs.AdvisoryLocks(pid), 0);
  // Another session can take the lock at once.
  EXPECT_EQ(One(obs.db(), "SELECT pg_try_advisory_lock(42)"), "t");
  EXPECT_TRUE(obs.db()->Exec("SELECT pg_advisory_unlock(42)").ok());
}

TEST(SessionPoolTest, ASessionReturnedInsideATransactionIsClosedNotReused) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  Observer obs(dsn);
  ASSERT_TRUE(obs.db()->Exec("CREATE TABLE t(x int)").ok());
  SessionPool pool(Options());
  int pid;
  {
    auto a = Lease(pool, dsn);
    pid = a->BackendPid();
    ASSERT_TRUE(a->Exec("BEGIN").ok());
    ASSERT_TRUE(a->Exec("INSERT INTO t VALUES (1)").ok());
    ASSERT_EQ(a->TransactionState(), TxState::kInTransaction);
  }
  EXPECT_EQ(pool.Stats().discarded_total, 1);
  EXPECT_EQ(pool.Stats().open, 0);
  ASSERT_TRUE(Eventually([&] { return !obs.BackendAlive(pid); }));
  EXPECT_EQ(One(obs.db(), "SELECT count(*) FROM t"), "0");  // never committed by a later user
  auto b = Lease(pool, dsn);
  EXPECT_NE(b->BackendPid(), pid);
  EXPECT_EQ(b->TransactionState(), TxState::kIdle);
}

TEST(SessionPoolTest, ASessionThatFailedInsideATransactionIsClosedEvenAfterRollback) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  SessionPool pool(Options());
  int pid;
  {
    auto a = Lease(pool, dsn);
    pid = a->BackendPid();
    ASSERT_TRUE(a->Exec("BEGIN").ok());
    EXPECT_FALSE(a->Exec("SELECT * FROM no_such_table").ok());
    ASSERT_TRUE(a->ExecScript("ROLLBACK").ok());
  }
  EXPECT_EQ(pool.Stats().discarded_total, 1);
  auto b = Lease(pool, dsn);
  EXPECT_NE(b->BackendPid(), pid);
}

TEST(SessionPoolTest, AnErrorOutsideATransactionKeepsTheSession) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  SessionPool pool(Options());
  int pid;
  {
    auto a = Lease(pool, dsn);
    pid = a->BackendPid();
    EXPECT_FALSE(a->Exec("SELECT * FROM no_such_table").ok());  // e.g. a history table not created yet
  }
  auto b = Lease(pool, dsn);
  EXPECT_EQ(b->BackendPid(), pid);
}

TEST(SessionPoolTest, ACancelledSessionIsNotReused) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  SessionPool pool(Options());
  int pid;
  {
    auto a = Lease(pool, dsn);
    pid = a->BackendPid();
    ASSERT_TRUE(a->Cancel().ok());  // a late cancel must not hit the next user's statement
  }
  auto b = Lease(pool, dsn);
  EXPECT_NE(b->BackendPid(), pid);
}

TEST(SessionPoolTest, ATerminatedBackendIsReplacedTransparently) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  Observer obs(dsn);
  SessionPool pool(Options());
  int pid;
  {
    auto a = Lease(pool, dsn);
    pid = a->BackendPid();
  }
  ASSERT_EQ(One(obs.db(), "SELECT pg_terminate_backend(" + std::to_string(pid) + ")"), "t");
  ASSERT_TRUE(Eventually([&] { return !obs.BackendAlive(pid); }));
  auto b = Lease(pool, dsn);
  ASSERT_NE(b, nullptr);
  // Replaced when the pool sees the goodbye at Acquire, or at the lease's first statement (which
  // is then re-run on a new session): either way the caller never sees the dead one.
  EXPECT_EQ(One(b.get(), "SELECT 1"), "1");
  EXPECT_NE(b->BackendPid(), pid);
  EXPECT_EQ(pool.Stats().open, 1);
}

TEST(SessionPoolTest, EverySessionIsReplacedAfterAServerRestart) {
  PgServer server;
  std::string dsn = server.CreateDatabase("pool");
  SessionPool pool(Options(2));
  int pid_a, pid_b;
  {
    auto a = Lease(pool, dsn), b = Lease(pool, dsn);
    pid_a = a->BackendPid();
    pid_b = b->BackendPid();
  }
  ASSERT_EQ(pool.Stats().idle, 2);
  server.Pause();
  server.Resume();
  auto a = Lease(pool, dsn), b = Lease(pool, dsn);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (Database* db : {a.get(), b.get()}) {
    EXPECT_EQ(One(db, "SELECT 1"), "1");
    EXPECT_NE(db->BackendPid(), pid_a);
    EXPECT_NE(db->BackendPid(), pid_b);
  }
  EXPECT_EQ(pool.Stats().open, 2);
  EXPECT_EQ(pool.Stats().discarded_total, 2);
}

TEST(SessionPoolTest, IdleSessionsAreClosedAfterTheTimeout) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  Observer obs(dsn);
  SessionPool pool(Options(2, milliseconds(200)));
  int pid;
  {
    auto a = Lease(pool, dsn);
    pid = a->BackendPid();
  }
  ASSERT_TRUE(Eventually([&] { return !obs.BackendAlive(pid); }));
  EXPECT_EQ(pool.Stats().open, 0);
  EXPECT_EQ(pool.Stats().idle_closed_total, 1);
  // A session in use is never closed for idleness, however long it is held.
  auto b = Lease(pool, dsn);
  int held = b->BackendPid();
  auto c = Lease(pool, dsn);
  c.reset();  // returned: will expire
  ASSERT_TRUE(Eventually([&] { return pool.Stats().idle_closed_total == 2; }));
  EXPECT_TRUE(obs.BackendAlive(held));
  EXPECT_EQ(One(b.get(), "SELECT 1"), "1");
}

TEST(SessionPoolTest, PastTheTotalIdleLimitTheSessionIdleLongestIsClosed) {
  std::string dsn_a = PgServer::Shared().CreateDatabase("pool"), dsn_b = PgServer::Shared().CreateDatabase("pool");
  Observer obs(dsn_a);
  SessionPoolOptions o = Options();
  o.max_idle_total = 1;
  SessionPool pool(o);
  int pid_a, pid_b;
  {
    auto a = Lease(pool, dsn_a);
    pid_a = a->BackendPid();
  }
  {
    auto b = Lease(pool, dsn_b);
    pid_b = b->BackendPid();
  }
  ASSERT_TRUE(Eventually([&] { return !obs.BackendAlive(pid_a); }));
  EXPECT_TRUE(obs.BackendAlive(pid_b));
  EXPECT_EQ(pool.Stats().idle, 1);
  EXPECT_EQ(pool.Stats().open, 1);
  auto b = Lease(pool, dsn_b);
  EXPECT_EQ(b->BackendPid(), pid_b);
}

TEST(SessionPoolTest, TheCapMakesTheNextCallerWaitForAReturnedSession) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  Observer obs(dsn);
  SessionPool pool(Options(2));
  auto a = Lease(pool, dsn, "capped-a"), b = Lease(pool, dsn, "capped-b");
  int pid_a = a->BackendPid();
  std::atomic<int> got{0};
  std::thread waiter([&] {
    auto c = Lease(pool, dsn, "capped-c");
    got = c ? c->BackendPid() : -1;
  });
  ASSERT_TRUE(Eventually([&] { return pool.Stats().waiting == 1; }));
  EXPECT_EQ(got, 0);
  EXPECT_EQ(obs.Sessions("capped"), 2);
  a.reset();
  waiter.join();
  EXPECT_EQ(got, pid_a);  // the returned session, not a third one
  EXPECT_EQ(pool.Stats().opened_total, 2);
  EXPECT_LE(obs.Sessions("capped"), 2);
  // Another database has its own cap.
  std::string other = PgServer::Shared().CreateDatabase("pool");
  auto d = Lease(pool, other);
  EXPECT_NE(d, nullptr);
}

TEST(SessionPoolTest, CloseFailsWaitersAndClosesSessionsReturnedLater) {
  std::string dsn = PgServer::Shared().CreateDatabase("pool");
  Observer obs(dsn);
  SessionPool pool(Options(1));
  auto a = Lease(pool, dsn);
  int pid = a->BackendPid();
  std::atomic<int> code{-1};
  std::thread waiter([&] { code = static_cast<int>(pool.Acquire(dsn, "late").status().code()); });
  ASSERT_TRUE(Eventually([&] { return pool.Stats().waiting == 1; }));
  pool.Close();
  waiter.join();
  EXPECT_EQ(code, static_cast<int>(Code::kCancelled));
  a.reset();
  ASSERT_TRUE(Eventually([&] { return !obs.BackendAlive(pid); }));
}

TEST(SessionPoolTest, ConnectErrorsPassThroughAndFreeTheSlot) {
  std::string bad = "postgresql://postgres:WrongPassword123@127.0.0.1:" + std::to_string(PgServer::Shared().port()) +
                    "/postgres";
  SessionPool pool(Options(1));
  for (int i = 0; i < 2; ++i) {  // a second try does not wait for the failed first one's slot
    auto r = pool.Acquire(bad, "x");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kUnavailable);
    EXPECT_EQ(r.status().message().find("WrongPassword123"), std::string::npos);
  }
  EXPECT_EQ(pool.Stats().open, 0);
}

}  // namespace
}  // namespace su
