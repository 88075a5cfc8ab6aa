// Database layer against a real throwaway PostgreSQL.
#include <gtest/gtest.h>

#include <thread>

#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/database/database.h"
#include "tests/support/pg_server.h"

namespace su {
namespace {

using su::testing::PgServer;

std::unique_ptr<Database> Connect(const std::string& dsn, const std::string& app = "test") {
  auto db = ConnectPostgres(dsn, app);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(db).value();
}

TEST(PostgresTest, QueriesWithParametersAndNulls) {
  auto db = Connect(PgServer::Shared().CreateDatabase());
  auto r = db->Query("SELECT $1::text || '!', $2::text IS NULL", {std::string("hi"), std::nullopt});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Get(0, 0), "hi!");
  EXPECT_EQ(r->Get(0, 1), "t");
}

TEST(PostgresTest, ErrorsCarrySqlstateAndNoPassword) {
  auto db = Connect(PgServer::Shared().CreateDatabase());
  auto r = db->Query("SELECT * FROM missing_table");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().sqlstate(), "42P01");
  EXPECT_NE(r.status().message().find("missing_table"), std::string::npos);

  std::string bad = "postgresql://postgres:WrongPassword123@127.0.0.1:" +
                    std::to_string(PgServer::Shared().port()) + "/postgres";
  auto c = ConnectPostgres(bad, "test");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kUnavailable);
  EXPECT_EQ(c.status().message().find("WrongPassword123"), std::string::npos) << c.status().message();
}

TEST(PostgresTest, LockTimeoutMapsToRetryableCode) {
  std::string dsn = PgServer::Shared().CreateDatabase();
  auto a = Connect(dsn), b = Connect(dsn);
  ASSERT_TRUE(a->Exec("CREATE TABLE t(x int)").ok());
  ASSERT_TRUE(a->Exec("BEGIN").ok());
  ASSERT_TRUE(a->Exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE").ok());
  ASSERT_TRUE(b->Exec("SET lock_timeout = '100ms'").ok());
  Status s = b->Exec("ALTER TABLE t ADD COLUMN y int");
  EXPECT_EQ(s.code(), Code::kLockTimeout) << s.ToString();
  EXPECT_EQ(s.sqlstate(), "55P03");
}

TEST(PostgresTest, TransactionRollsBackUnlessCommitted) {
  auto db = Connect(PgServer::Shared().CreateDatabase());
  ASSERT_TRUE(db->Exec("CREATE TABLE t(x int)").ok());
  {
    auto tx = Transaction::Begin(db.get());
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (1)").ok());
  }
  EXPECT_EQ(db->Query("SELECT count(*) FROM t")->Get(0, 0), "0");
  {
    auto tx = Transaction::Begin(db.get());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (1)").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_EQ(db->Query("SELECT count(*) FROM t")->Get(0, 0), "1");
}

TEST(PostgresTest, QuotingSurvivesHostileIdentifiers) {
  auto db = Connect(PgServer::Shared().CreateDatabase());
  std::string name = "we\"ird; DROP TABLE x; --";
  ASSERT_TRUE(db->Exec("CREATE TABLE " + QuoteIdent(name) + "(v text)").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO " + QuoteIdent(name) + " VALUES (" + QuoteLiteral("it's \\ ok") + ")").ok());
  EXPECT_EQ(db->Query("SELECT v FROM " + QuoteIdent(name))->Get(0, 0), "it's \\ ok");
}

TEST(MigrationLockTest, SecondSessionGetsBusyNamingTheHolder) {
  std::string dsn = PgServer::Shared().CreateDatabase();
  auto a = Connect(dsn, "holder-app"), b = Connect(dsn, "waiter-app");
  int64_t key = LockKeyFor("test-scope");
  auto la = MigrationLock::Acquire(a.get(), key, std::chrono::milliseconds(0), RealClock());
  ASSERT_TRUE(la.ok()) << la.status().ToString();
  auto lb = MigrationLock::Acquire(b.get(), key, std::chrono::milliseconds(300), RealClock(),
                                   std::chrono::milliseconds(50));
  ASSERT_FALSE(lb.ok());
  EXPECT_EQ(lb.status().code(), Code::kLockBusy);
  EXPECT_NE(lb.status().message().find("holder-app"), std::string::npos) << lb.status().message();
  EXPECT_NE(lb.status().message().find("pid " + std::to_string(a->BackendPid())), std::string::npos);
  la->Release();
  auto lb2 = MigrationLock::Acquire(b.get(), key, std::chrono::milliseconds(0), RealClock());
  EXPECT_TRUE(lb2.ok());
}

TEST(MigrationLockTest, WaiterGetsTheLockWhenHolderReleasesWithinTheWait) {
  std::string dsn = PgServer::Shared().CreateDatabase();
  auto a = Connect(dsn), b = Connect(dsn);
  int64_t key = LockKeyFor("scope2");
  auto la = MigrationLock::Acquire(a.get(), key, std::chrono::milliseconds(0), RealClock());
  ASSERT_TRUE(la.ok());
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    la->Release();
  });
  auto lb = MigrationLock::Acquire(b.get(), key, std::chrono::seconds(10), RealClock(),
                                   std::chrono::milliseconds(50));
  t.join();
  EXPECT_TRUE(lb.ok()) << lb.status().ToString();
}

TEST(AuditLogTest, RowsSurviveRollbackAndListNewestFirst) {
  auto db = Connect(PgServer::Shared().CreateDatabase());
  AuditLog log(db.get());
  auto empty = log.List(10);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(log.Ensure().ok());
  ASSERT_TRUE(log.Ensure().ok());  // idempotent
  AuditEntry e;
  e.resource = "ciam/app";
  e.engine = "sql";
  e.version = "1";
  e.name = "init";
  e.direction = "up";
  e.statements_total = 3;
  auto id = log.Begin(e);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  {
    auto tx = Transaction::Begin(db.get());
    ASSERT_TRUE(db->Exec("SELECT 1").ok());
  }  // rolled back: the audit row was written outside and stays
  ASSERT_TRUE(log.Finish(*id, "failed", 1, "boom", "CREATE TABLE x").ok());
  e.version = "2";
  ASSERT_TRUE(log.Record(e).ok());
  auto rows = log.List(10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].version, "2");
  EXPECT_EQ((*rows)[0].status, "succeeded");
  EXPECT_EQ((*rows)[1].status, "failed");
  EXPECT_EQ((*rows)[1].statements_applied, 1);
  EXPECT_EQ((*rows)[1].failing_statement, "CREATE TABLE x");
  EXPECT_EQ(log.List(10, "other/x")->size(), 0u);
}

TEST(AuditLogTest, RunningRowsOfDeadSessionsBecomeInterrupted) {
  std::string dsn = PgServer::Shared().CreateDatabase();
  auto a = Connect(dsn);
  AuditLog(a.get()).Ensure();
  {
    auto b = Connect(dsn);
    AuditEntry e;
    e.resource = "r";
    e.engine = "sql";
    e.direction = "up";
    ASSERT_TRUE(AuditLog(b.get()).Begin(e).ok());
  }  // b's session ends, as when a process is killed
  AuditLog log(a.get());
  for (int i = 0; i < 50; ++i) {  // the backend may take a moment to leave pg_stat_activity
    ASSERT_TRUE(log.MarkInterrupted().ok());
    if ((*log.List(1))[0].status == "interrupted") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ((*log.List(1))[0].status, "interrupted");
}

}  // namespace
}  // namespace su

namespace su {
namespace {

TEST(LibpqDsnTest, DropsOryPoolOptionsOnly) {
  EXPECT_EQ(LibpqDsn("postgres://u:p@h:5432/db?sslmode=disable&max_conns=20&max_idle_conns=4"),
            "postgres://u:p@h:5432/db?sslmode=disable");
  EXPECT_EQ(LibpqDsn("postgres://u:p@h/db?max_conns=20"), "postgres://u:p@h/db");
  EXPECT_EQ(LibpqDsn("host=h dbname=db"), "host=h dbname=db");
}

TEST(PostgresTest, ConnectsWithAnOryStyleDsn) {
  std::string dsn = su::testing::PgServer::Shared().CreateDatabase() + "?sslmode=disable&max_conns=20&max_idle_conns=4";
  auto db = ConnectPostgres(dsn, "test");
  EXPECT_TRUE(db.ok()) << db.status().ToString();
}

}  // namespace
}  // namespace su
