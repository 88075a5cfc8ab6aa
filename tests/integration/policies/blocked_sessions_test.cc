// The live lock watch on a real server: a migration needing ACCESS EXCLUSIVE waits behind a session
// holding a conflicting lock in an open transaction, and a third session's SELECT queues behind the
// migration. The watch (200 ms interval) reports the third session in status.blockedSessions; with
// policy.blockedSessionLimit it cancels the migration (BlockingTraffic, retried later), which
// unblocks the traffic, and a later forced pass applies the migration once the blocker is gone.
// Every wait is on an observed event (pg_locks, a watch report, a thread ending), never a sleep
// that a test result depends on.
#include <gtest/gtest.h>

#include <condition_variable>
#include <thread>

#include "reconcilers/schemaupgrade/lock_watch.h"
#include "tests/integration/policies/policy_harness.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

using std::chrono::milliseconds;

// What the real watch reported, for the test thread to wait on.
struct WatchReports {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<BlockedSession>> polls;

  bool WaitForPid(int pid) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(60), [&] {
      for (const auto& p : polls) {
        for (const auto& b : p) {
          if (b.pid == pid) return true;
        }
      }
      return false;
    });
  }
};

// The real PgMigrationWatch, with each report also handed to the test (after the reconciler got it).
class ObservedWatch : public MigrationWatch {
 public:
  ObservedWatch(std::unique_ptr<MigrationWatch> inner, WatchReports* reports)
      : inner_(std::move(inner)), reports_(reports) {}
  Status Start(int pid, milliseconds limit, std::function<void(const std::vector<BlockedSession>&)> on_blocked,
               std::function<void()> cancel) override {
    WatchReports* reports = reports_;
    return inner_->Start(pid, limit,
                  [reports, on_blocked](const std::vector<BlockedSession>& b) {
                    on_blocked(b);
                    std::lock_guard<std::mutex> l(reports->mu);
                    reports->polls.push_back(b);
                    reports->cv.notify_all();
                  },
                  std::move(cancel));
  }
  void Stop() override { inner_->Stop(); }
  bool Cancelled() const override { return inner_->Cancelled(); }

 private:
  std::unique_ptr<MigrationWatch> inner_;
  WatchReports* reports_;
};

class BlockedSessionsTest : public ::testing::Test {
 protected:
  BlockedSessionsTest() : h_("blocked") {}

  void SetUp() override {
    deps_ = h_.Deps();
    WatchReports* reports = &reports_;
    deps_.watch = [reports](const std::string& dsn) {
      return std::make_unique<ObservedWatch>(NewPgMigrationWatch(dsn, milliseconds(200)), reports);
    };
    reconciler_ = std::make_unique<Reconciler>(deps_);
    h_.WriteMigration("001", "accounts",
                      "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);\n"
                      "INSERT INTO accounts SELECT g, g * 10 FROM generate_series(1, 100) g;\n");
    auto first = h_.Reconcile(*reconciler_, h_.Manifest("app", "001", ""));
    ASSERT_EQ(first.status.phase, Phase::kSucceeded) << first.status.message;
    h_.WriteMigration("002", "note", "ALTER TABLE accounts ADD COLUMN note text;\n");
    monitor_ = h_.Connect("policies-monitor");
    blocker_ = h_.Connect("policies-blocker");
    reader_ = h_.Connect("policies-reader");
    ASSERT_TRUE(monitor_ && blocker_ && reader_);
    // The blocker: an open transaction holding ACCESS SHARE on accounts (a long report, say).
    ASSERT_TRUE(blocker_->Exec("BEGIN").ok());
    ASSERT_TRUE(blocker_->Query("SELECT sum(balance) FROM accounts").ok());
  }

  void TearDown() override {
    // A failed assertion may leave the blocker open: end it so the threads can finish.
    if (blocker_) (void)blocker_->Exec("ROLLBACK");
    if (reader_thread_.joinable()) reader_thread_.join();
    if (reconcile_thread_.joinable()) reconcile_thread_.join();
  }

  void StartReconcile(const SchemaUpgrade& su) {
    su_ = su;
    reconcile_thread_ = std::thread([this] { outcome_ = h_.Reconcile(*reconciler_, su_); });
  }

  // Waits until the migration's ALTER TABLE is queued for its ACCESS EXCLUSIVE lock.
  bool WaitForPendingMigrationLock() {
    for (int i = 0; i < 3000; ++i) {
      auto r = monitor_->Query(
          "SELECT count(*) FROM pg_locks WHERE relation = 'accounts'::regclass AND mode = 'AccessExclusiveLock' "
          "AND NOT granted");
      if (r.ok() && r->Get(0, 0) == "1") return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  // The third session: a plain read that queues behind the migration's pending lock.
  void StartReader() {
    reader_pid_ = reader_->BackendPid();
    reader_thread_ = std::thread([this] { reader_ok_ = reader_->Query("SELECT count(*) FROM accounts").ok(); });
  }

  // A statement that works for `work_s` seconds before it touches accounts (a report's first
  // phase, say): its lock wait behind the migration starts long after its query_start.
  void StartSlowReader(int work_s) {
    reader_pid_ = reader_->BackendPid();
    reader_thread_ = std::thread([this, work_s] {
      reader_ok_ = reader_
                       ->Exec("DO $$ BEGIN PERFORM pg_sleep(" + std::to_string(work_s) +
                              "); PERFORM count(*) FROM accounts; END $$")
                       .ok();
    });
  }

  // Waits until the reader's statement is queued for its lock on accounts.
  bool WaitForReaderWaiting() {
    for (int i = 0; i < 3000; ++i) {
      auto r = monitor_->Query("SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted",
                               {std::to_string(reader_pid_)});
      if (r.ok() && r->Get(0, 0) == "1") return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  bool NoteColumnExists() {
    auto r = monitor_->Query(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'note'");
    return r.ok() && r->Get(0, 0) == "1";
  }

  const BlockedSession* FindReader(const ResourceStatus& st) {
    for (const auto& b : st.blocked_sessions) {
      if (b.pid == reader_pid_) return &b;
    }
    return nullptr;
  }

  PolicyHarness h_;
  ReconcilerDeps deps_;
  WatchReports reports_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<Database> monitor_, blocker_, reader_;
  SchemaUpgrade su_;
  ReconcileOutcome outcome_;
  std::thread reconcile_thread_, reader_thread_;
  int reader_pid_ = 0;
  bool reader_ok_ = false;
};

TEST_F(BlockedSessionsTest, ReportsSessionsQueuedBehindTheMigrationInStatus) {
  StartReconcile(h_.Manifest("app", "002", "lockTimeout: 10s\n"));
  ASSERT_TRUE(WaitForPendingMigrationLock());
  StartReader();
  ASSERT_TRUE(reports_.WaitForPid(reader_pid_)) << "the watch never reported the queued reader";
  // The watch just reported it; the next poll is 200 ms away, long after this commit lets the
  // migration finish.
  ASSERT_TRUE(blocker_->Exec("COMMIT").ok());
  reconcile_thread_.join();
  reader_thread_.join();
  EXPECT_TRUE(reader_ok_);

  const ResourceStatus& st = outcome_.status;
  EXPECT_EQ(st.phase, Phase::kSucceeded) << st.message;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));
  ASSERT_EQ(st.blocked_sessions.size(), 1u) << StatusToJson(st);
  const BlockedSession* b = FindReader(st);
  ASSERT_NE(b, nullptr) << StatusToJson(st);
  EXPECT_EQ(b->application_name, "policies-reader");
  EXPECT_GE(b->waiting_ms, 0);
  EXPECT_NE(b->query.find("SELECT count(*) FROM accounts"), std::string::npos) << b->query;
  // The blocker holds a lock the migration waits for, but it is not blocked by the migration.
  for (const auto& s : st.blocked_sessions) EXPECT_NE(s.application_name, "policies-blocker");
  bool logged = false;
  for (const auto& l : CapturedLogs()) {
    logged |= l.find("event=lock.blocked") != std::string::npos &&
              l.find("blocked_pid=" + std::to_string(reader_pid_)) != std::string::npos;
  }
  EXPECT_TRUE(logged) << "no lock.blocked log line for the reader";
  h_.ExpectNoSecretAnywhere();
}

TEST_F(BlockedSessionsTest, CancelsTheMigrationBeyondTheLimitAndAppliesItLater) {
  auto su = h_.Manifest("app", "002", "lockTimeout: 10s\nblockedSessionLimit: 1s\n");
  StartReconcile(su);
  ASSERT_TRUE(WaitForPendingMigrationLock());
  StartReader();
  // The watch cancels the migration once the reader has waited more than 1 s.
  reconcile_thread_.join();
  // Traffic flows again while the blocker is still open: the migration's queued lock is gone.
  reader_thread_.join();
  EXPECT_TRUE(reader_ok_);

  const ResourceStatus& st = outcome_.status;
  EXPECT_EQ(outcome_.result.code(), Code::kCancelled) << outcome_.result.ToString();
  EXPECT_FALSE(outcome_.terminal);
  const Condition* reconciling = FindCondition(st, "Reconciling");
  ASSERT_NE(reconciling, nullptr);
  EXPECT_EQ(reconciling->status, "True");
  EXPECT_EQ(reconciling->reason, "BlockingTraffic");
  const Condition* stalled = FindCondition(st, "Stalled");
  ASSERT_NE(stalled, nullptr);
  EXPECT_EQ(stalled->status, "False");
  EXPECT_EQ(st.attempts, 1);
  EXPECT_EQ(st.next_retry_at, FormatTime(h_.clock().Now() + std::chrono::seconds(5)));
  EXPECT_EQ(outcome_.requeue_after, std::chrono::seconds(5));
  EXPECT_NE(st.message.find("BlockingTraffic"), std::string::npos) << st.message;
  EXPECT_NE(st.last_error.find("blockedSessionLimit"), std::string::npos) << st.last_error;
  const BlockedSession* b = FindReader(st);
  ASSERT_NE(b, nullptr) << StatusToJson(st);
  EXPECT_GT(b->waiting_ms, 1000);
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001"}));
  EXPECT_FALSE(NoteColumnExists());
  bool interrupted = false;
  for (const auto& a : h_.Audit()) interrupted |= a.version == "002" && a.direction == "up" && a.status == "interrupted";
  EXPECT_TRUE(interrupted) << "the cancelled run should be audited as interrupted";

  // Within the backoff nothing runs; after the blocker ends, an explicit retry applies it.
  auto waiting = h_.Reconcile(*reconciler_, su);
  EXPECT_EQ(waiting.result.code(), Code::kUnavailable) << waiting.result.ToString();
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001"}));
  ASSERT_TRUE(blocker_->Exec("COMMIT").ok());
  auto out = h_.Reconcile(*reconciler_, su, /*force=*/true);
  EXPECT_EQ(out.status.phase, Phase::kSucceeded) << out.status.message;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));
  EXPECT_TRUE(NoteColumnExists());
  h_.ExpectNoSecretAnywhere();
}

// A wait is how long the session has waited on the lock, not how long its query has run: a
// statement that worked 4 s before it queued behind the migration has not waited 4 s, so a 3 s
// limit does not cancel the migration when the blocker goes away at once.
TEST_F(BlockedSessionsTest, MeasuresTheLockWaitNotTheQueryAge) {
  StartReconcile(h_.Manifest("app", "002", "lockTimeout: 30s\nblockedSessionLimit: 3s\n"));
  ASSERT_TRUE(WaitForPendingMigrationLock());
  StartSlowReader(4);
  ASSERT_TRUE(WaitForReaderWaiting());
  ASSERT_TRUE(reports_.WaitForPid(reader_pid_)) << "the watch never reported the queued reader";
  {
    std::lock_guard<std::mutex> l(reports_.mu);
    for (const auto& p : reports_.polls) {
      for (const auto& b : p) {
        if (b.pid == reader_pid_) {
          EXPECT_LT(b.waiting_ms, 3000) << "the query's age was reported as its wait";
        }
      }
    }
  }
  ASSERT_TRUE(blocker_->Exec("COMMIT").ok());
  reconcile_thread_.join();
  reader_thread_.join();
  EXPECT_TRUE(reader_ok_);
  EXPECT_TRUE(outcome_.result.ok()) << outcome_.result.ToString();
  EXPECT_EQ(outcome_.status.phase, Phase::kSucceeded) << outcome_.status.message;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));
  h_.ExpectNoSecretAnywhere();
}

// The watch needs a second session, opened lazily: only when a statement runs longer than
// policy.lockWatchAfter. The role's CONNECTION LIMIT 1 leaves none for it. Short migrations then
// run on one session, with or without blockedSessionLimit (nothing needed watching). A long
// statement without a limit runs on and the missing watch is a Warning event; with
// blockedSessionLimit it is cancelled the moment the watch cannot open (fail closed: rolled back,
// audit row interrupted, LockWatchUnavailable, retried) and applies once a connection is free.
// Superusers ignore CONNECTION LIMIT, so the tool connects as an ordinary role owning the database.
class LockWatchAvailability : public ::testing::Test {
 protected:
  LockWatchAvailability() : h_("watch_connlimit") {}

  void SetUp() override {
    const std::string db = PgServer::DbNameOf(h_.dsn());
    role_ = db + "_app";
    auto admin = h_.Connect("policies-admin");
    ASSERT_NE(admin, nullptr);
    ASSERT_TRUE(admin->Exec("CREATE ROLE " + QuoteIdent(role_) + " LOGIN PASSWORD 'app-pw' CONNECTION LIMIT 1").ok());
    ASSERT_TRUE(admin->Exec("ALTER DATABASE " + QuoteIdent(db) + " OWNER TO " + QuoteIdent(role_)).ok());
    const std::string app_dsn = "host=127.0.0.1 port=" + std::to_string(PgServer::Shared().port()) + " dbname=" + db +
                                " user=" + role_ + " password=app-pw";
    deps_ = h_.Deps();
    deps_.watch = [](const std::string& dsn) { return NewPgMigrationWatch(dsn, milliseconds(200)); };
    deps_.getenv = [app_dsn](const char* name) -> const char* {
      static thread_local std::string value;
      value = std::string(name) == kDsnEnv ? app_dsn : "";
      return std::string(name) == kDsnEnv ? value.c_str() : std::getenv(name);
    };
    reconciler_ = std::make_unique<Reconciler>(deps_);
  }

  bool Warned() const {
    for (const auto& e : h_.events()) {
      if (e.find("Warning LockWatchUnavailable") != std::string::npos) return true;
    }
    return false;
  }

  void SetConnectionLimit(int n) {
    auto admin = h_.Connect("policies-admin");
    ASSERT_NE(admin, nullptr);
    ASSERT_TRUE(admin->Exec("ALTER ROLE " + QuoteIdent(role_) + " CONNECTION LIMIT " + std::to_string(n)).ok());
  }

  PolicyHarness h_;
  std::string role_;
  ReconcilerDeps deps_;
  std::unique_ptr<Reconciler> reconciler_;
};

TEST_F(LockWatchAvailability, ShortMigrationsRunOnOneSessionEvenUnderABlockedSessionLimit) {
  h_.WriteMigration("001", "accounts", "CREATE TABLE accounts (id int PRIMARY KEY);\n");
  auto report_only = h_.Reconcile(*reconciler_, h_.Manifest("app", "001", ""));
  EXPECT_EQ(report_only.status.phase, Phase::kSucceeded) << report_only.status.message;
  h_.WriteMigration("002", "note", "ALTER TABLE accounts ADD COLUMN note text;\n");
  auto limited = h_.Reconcile(*reconciler_, h_.Manifest("app", "002", "blockedSessionLimit: 3s\n"));
  EXPECT_EQ(limited.status.phase, Phase::kSucceeded) << limited.status.message;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));
  EXPECT_FALSE(Warned()) << "no statement ran long enough to need the watch";
  h_.ExpectNoSecretAnywhere();
}

TEST_F(LockWatchAvailability, ALongStatementWithoutALimitRunsOnWithAWarning) {
  h_.WriteMigration("001", "slow", "CREATE TABLE accounts (id int PRIMARY KEY);\nSELECT pg_sleep(1.5);\n");
  auto out = h_.Reconcile(*reconciler_, h_.Manifest("app", "001", "lockWatchAfter: 200ms\n"));
  EXPECT_EQ(out.status.phase, Phase::kSucceeded) << out.status.message;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001"}));
  EXPECT_TRUE(Warned()) << "a statement ran unwatched without a Warning event";
}

TEST_F(LockWatchAvailability, ALongStatementUnderALimitIsCancelledWhenTheWatchCannotOpen) {
  h_.WriteMigration("001", "accounts", "CREATE TABLE accounts (id int PRIMARY KEY);\n");
  ASSERT_EQ(h_.Reconcile(*reconciler_, h_.Manifest("app", "001", "")).status.phase, Phase::kSucceeded);
  // Far longer than the test may take: it ends only by the cancel.
  h_.WriteMigration("002", "slow", "ALTER TABLE accounts ADD COLUMN note text;\nSELECT pg_sleep(600);\n");
  auto su = h_.Manifest("app", "002", "blockedSessionLimit: 3s\nlockWatchAfter: 200ms\n");
  auto refused = h_.Reconcile(*reconciler_, su);
  EXPECT_EQ(refused.result.code(), Code::kUnavailable) << refused.result.ToString();
  EXPECT_FALSE(refused.terminal);
  const Condition* reconciling = FindCondition(refused.status, "Reconciling");
  ASSERT_NE(reconciling, nullptr);
  EXPECT_EQ(reconciling->reason, "LockWatchUnavailable");
  EXPECT_NE(refused.status.last_error.find("too many connections"), std::string::npos) << refused.status.last_error;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001"})) << "the statement ran on unwatched";
  EXPECT_EQ(h_.Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND "
                      "column_name = 'note'"),
            "0");
  EXPECT_EQ(h_.Scalar("SELECT status FROM schema_upgrade_log WHERE version = '002'"), "interrupted");

  SetConnectionLimit(2);
  h_.WriteMigration("002", "slow", "ALTER TABLE accounts ADD COLUMN note text;\nSELECT pg_sleep(0.5);\n");
  su = h_.Manifest("app", "002", "blockedSessionLimit: 3s\nlockWatchAfter: 200ms\n");
  auto out = h_.Reconcile(*reconciler_, su, /*force=*/true);
  EXPECT_EQ(out.status.phase, Phase::kSucceeded) << out.status.message;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));
  h_.ExpectNoSecretAnywhere();
}

TEST_F(LockWatchAvailability, LockWatchAfterZeroOpensTheWatchWithTheMigration) {
  h_.WriteMigration("001", "accounts", "CREATE TABLE accounts (id int PRIMARY KEY);\n");
  auto refused = h_.Reconcile(*reconciler_, h_.Manifest("app", "001", "blockedSessionLimit: 3s\nlockWatchAfter: 0\n"));
  EXPECT_EQ(refused.result.code(), Code::kUnavailable) << refused.result.ToString();
  const Condition* reconciling = FindCondition(refused.status, "Reconciling");
  ASSERT_NE(reconciling, nullptr);
  EXPECT_EQ(reconciling->reason, "LockWatchUnavailable");
  EXPECT_TRUE(h_.History().empty()) << "the migration ran unwatched";
}

}  // namespace
}  // namespace su::testing
