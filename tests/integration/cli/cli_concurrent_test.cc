// Concurrency and status bugs found by fault injection (issue 7, section 4b), on the real binary
// and a real PostgreSQL: two `apply` runs on one database (the one that waited for the migration
// lock observes again under it and reports the real database version), two runs sharing a backup
// folder (no dump before the lock; partial files of their own), one definition of "database
// version" after an out-of-order apply, and no onFailure report for a transient failure (section
// 3). "Another run" is played by this test holding the migration lock on its own session, so the
// interleaving is forced, not hoped for.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/database/backup.h"
#include "reconcilers/engines/sql/sql_engine.h"
#include "tests/integration/cli/cli_fixture.h"
#include "tests/support/bg_process.h"
#include "tests/support/free_port.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

class CliConcurrentTest : public CliFixture {
 protected:
  void WriteThree() {
    WriteMigration(1, "users", "CREATE TABLE users (id int PRIMARY KEY);\n");
    WriteMigration(2, "email", "ALTER TABLE users ADD COLUMN email text;\n");
    WriteMigration(3, "orders", "CREATE TABLE orders (id int PRIMARY KEY);\n");
  }

  // The migration lock every schema-upgrade run takes, held by this test's session.
  void HoldTheLock() {
    auto r = db_->Query("SELECT pg_advisory_lock($1::bigint)",
                        {std::to_string(LockKeyFor("schema-upgrade/" + dbname_))});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  void ReleaseTheLock() {
    auto r = db_->Query("SELECT pg_advisory_unlock($1::bigint)",
                        {std::to_string(LockKeyFor("schema-upgrade/" + dbname_))});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->Get(0, 0), "t");
  }

  // `schema-upgrade apply -f m.yaml` in the background, its output in <name>.log.
  std::unique_ptr<BackgroundProcess> StartApply(const std::string& name) {
    auto p = std::make_unique<BackgroundProcess>();
    std::map<std::string, std::string> env = {{"SU_STATE_DIR", dir_.Path("state")},
                                              {kDsnVar, dsn_},
                                              {"SU_LOG_LEVEL", "info"},
                                              {"SU_CRASH_AT", kUnsetEnv}};
    EXPECT_TRUE(p->Start({CliBinary(), "apply", "-q", "-f", Manifest()}, env, dir_.Path(name + ".log")));
    return p;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream o;
    o << in.rdbuf();
    return o.str();
  }

  // Polls p's log until it holds needle (bounded), or p ended.
  static bool WaitForLog(BackgroundProcess* p, const std::string& needle, std::string* why) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (ReadFile(p->log_path()).find(needle) == std::string::npos) {
      if (p->Poll() || std::chrono::steady_clock::now() > deadline) {
        *why = "no \"" + needle + "\" in " + p->log_path() + ":\n" + p->LogTail();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  // Files in the backup folder (state/backups), names only.
  std::vector<std::string> BackupFiles() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_.Path("state/backups"), ec)) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }

  static int Count(const std::vector<std::string>& names, const std::string& suffix) {
    int n = 0;
    for (const auto& f : names) n += f.size() >= suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0;
    return n;
  }
};

// Was: the waiting run printed "Succeeded: 0 migration(s) applied, database at (empty)" and
// stored an empty currentVersion while the database was at its last version.
TEST_F(CliConcurrentTest, TheApplyThatWaitedForTheLockReportsTheDatabaseVersionAfterTheOtherRun) {
  WriteThree();
  WriteManifest({"    lockWait: 60s"});
  HoldTheLock();
  auto waiting = StartApply("waiting");
  std::string why;
  ASSERT_TRUE(WaitForLog(waiting.get(), "lock.wait", &why)) << why;
  // The other run, under the lock this test holds: all three migrations.
  auto engine = NewSqlEngine(LocalFileSystem(), dir_.Path("migrations"));
  RunReport other = engine->Apply(db_.get(), RunContext{});
  ASSERT_TRUE(other.status.ok()) << other.status.ToString();
  ASSERT_EQ(other.steps.size(), 3u);
  ReleaseTheLock();

  auto end = waiting->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(end.has_value()) << waiting->LogTail();
  std::string out = ReadFile(waiting->log_path());
  EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe() << "\n" << out;
  EXPECT_TRUE(Contains(out, "clitest/app: Succeeded: 0 migration(s) applied, database at " + Ver(3) + " ("))
      << out;
  EXPECT_FALSE(Contains(out, "(empty)")) << out;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)}));
  auto status = Run({"status", "-f", Manifest(), "-o", "json"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(Contains(status.out, "\"currentVersion\":\"" + Ver(3) + "\"")) << status.out;
  EXPECT_FALSE(Contains(status.out, "\"currentVersion\":\"\"")) << status.out;
}

// Was: both runs started pg_dump into the same `.partial` file before taking the migration lock,
// and one failed with "cannot rename the finished backup". Now no run dumps before it holds the
// lock, and the run that waited finds nothing left to do (no second backup).
TEST_F(CliConcurrentTest, TwoAppliesSharingABackupFolderDumpOnlyUnderTheLockAndOnlyOnce) {
  WriteThree();
  WriteManifest({"    lockWait: 60s", "    backup:", "      enabled: true"});
  HoldTheLock();
  auto first = StartApply("first");
  auto second = StartApply("second");
  std::string why;
  ASSERT_TRUE(WaitForLog(first.get(), "lock.wait", &why)) << why;
  ASSERT_TRUE(WaitForLog(second.get(), "lock.wait", &why)) << why;
  EXPECT_TRUE(BackupFiles().empty()) << "a run started a backup before it held the migration lock: "
                                     << ::testing::PrintToString(BackupFiles());
  ReleaseTheLock();

  for (auto* p : {first.get(), second.get()}) {
    auto end = p->Wait(std::chrono::seconds(120));
    ASSERT_TRUE(end.has_value()) << p->LogTail();
    std::string out = ReadFile(p->log_path());
    EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe() << "\n" << out;
    EXPECT_TRUE(Contains(out, "database at " + Ver(3) + " (")) << out;
  }
  auto files = BackupFiles();
  EXPECT_EQ(Count(files, ".dump"), 1) << ::testing::PrintToString(files);
  EXPECT_EQ(Count(files, ".partial"), 0) << ::testing::PrintToString(files);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)}));
}

// A runner that plays a second dump into the same path while the first one's pg_dump has just
// finished and its file is not yet renamed into place.
class InterleavingRunner : public ProcessRunner {
 public:
  InterleavingRunner(std::string dsn, std::string path) : dsn_(std::move(dsn)), path_(std::move(path)) {}
  Result<ProcessResult> Run(const ProcessSpec& spec) override {
    auto r = PosixProcessRunner()->Run(spec);
    if (!nested_done_) {
      nested_done_ = true;
      nested_ = PgDump(PosixProcessRunner(), dsn_, path_);
    }
    return r;
  }
  Result<BackupFile> nested_ = Status::Failed("not run");

 private:
  std::string dsn_;
  std::string path_;
  bool nested_done_ = false;
};

TEST_F(CliConcurrentTest, TwoDumpsIntoOnePathNeverShareAPartialFile) {
  ASSERT_TRUE(db_->ExecScript("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);").ok());
  std::filesystem::create_directories(dir_.Path("dumps"));
  std::string path = dir_.Path("dumps/app.dump");
  InterleavingRunner runner(dsn_, path);

  auto outer = PgDump(&runner, dsn_, path);

  ASSERT_TRUE(runner.nested_.ok()) << runner.nested_.status().ToString();
  ASSERT_TRUE(outer.ok()) << "the second dump took the first one's partial file: " << outer.status().ToString();
  EXPECT_EQ(outer->path, path);
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_GT(st.st_size, 0);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Path("dumps"))) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, (std::vector<std::string>{"app.dump"})) << "partial files left behind";
  ProcessSpec list;
  list.argv = {PgServer::BinDir() + "/pg_restore", "-l", path};
  auto listed = PosixProcessRunner()->Run(list);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->Succeeded()) << "not a complete dump: " << listed->Tail(5);
}

// Was: after versions 1 and 3 were applied and then 2 was added and applied, `apply` and the status
// file said "database at ...002" while `plan` said "...003".
TEST_F(CliConcurrentTest, AfterAnOutOfOrderApplyApplyStatusAndPlanAgreeOnTheDatabaseVersion) {
  WriteMigration(1, "users", "CREATE TABLE users (id int PRIMARY KEY);\n");
  WriteMigration(3, "orders", "CREATE TABLE orders (id int PRIMARY KEY);\n");
  WriteManifest();
  auto first = Run({"apply", "-q", "-f", Manifest()});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  ASSERT_TRUE(Contains(first.out, "database at " + Ver(3) + " (")) << first.out;

  WriteMigration(2, "email", "ALTER TABLE users ADD COLUMN email text;\n");
  auto second = Run({"apply", "-q", "-f", Manifest()});
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_TRUE(Contains(second.out, ": 1 migration(s) applied, database at " + Ver(3) + " (")) << second.out;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)}));

  auto status = Run({"status", "-f", Manifest(), "-o", "json"});
  EXPECT_TRUE(Contains(status.out, "\"currentVersion\":\"" + Ver(3) + "\"")) << status.out;
  auto plan = Run({"plan", "-f", Manifest(), "-o", "json"});
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_TRUE(Contains(plan.out, "\"databaseVersion\":\"" + Ver(3) + "\"")) << plan.out;
}

// Section 3: "on failure: halt: nothing was undone" is for permanent failures; a run that only
// failed to reach the database says nothing about onFailure (was: the earlier halt was repeated).
TEST_F(CliConcurrentTest, ATransientFailurePrintsNoOnFailureLine) {
  WriteMigration(1, "users", "CREATE TABLE users (id int PRIMARY KEY);\n");
  WriteMigration(2, "broken", "INSERT INTO no_such_table VALUES (1);\n");
  WriteManifest();
  auto failed = Run({"apply", "-q", "-f", Manifest()});
  ASSERT_NE(failed.exit_code, 0);
  ASSERT_TRUE(Contains(failed.out, "clitest/app: on failure: halt: nothing was undone\n")) << failed.out;

  int dead_port = FreeTcpPort();
  ASSERT_GT(dead_port, 0);
  std::string dead = "postgres://postgres:" + PgServer::Shared().password() + "@127.0.0.1:" +
                     std::to_string(dead_port) + "/nowhere?sslmode=disable&connect_timeout=5";
  auto down = Run({"apply", "-q", "-f", Manifest()}, true, dead);
  EXPECT_EQ(down.exit_code, 1) << down.out << down.err;
  EXPECT_TRUE(Contains(down.out, "DatabaseUnavailable")) << down.out;
  EXPECT_FALSE(Contains(down.out, "on failure:")) << down.out;
  auto status = Run({"status", "-f", Manifest(), "-o", "json"});
  EXPECT_TRUE(Contains(status.out, "\"failureAction\":\"\"")) << status.out;
  EXPECT_TRUE(Contains(status.out, "\"currentVersion\":\"" + Ver(1) + "\"")) << "the last observed version is kept: "
                                                                            << status.out;
}

}  // namespace
}  // namespace su::testing
