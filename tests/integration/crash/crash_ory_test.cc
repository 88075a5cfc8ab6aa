// Crash safety of the ory engine under the real binary: the controller killed while the target
// image's migration container runs. Killing the controller does not stop that container (podman
// keeps it until it exits, or until its client fails to write output), so the restarted controller
// finds a migrator still at work; it must not start a second one beside it (two popx migrators
// race for the same versions and the loser fails the upgrade). A test session holds a lock the
// migration needs, so the first migrator is reliably caught mid-run.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/crash/crash_world.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

using std::chrono::seconds;

// Names of running containers of `image` whose command is the migrate-up command and that migrate
// *this* test's database (their DSN ends in "/<db>"). Tests running beside this one (ctest -j 2
// runs the ory integration and e2e tests, other checkouts share the machine's podman) start the
// same fixture image's migrator against their own databases: counting those made this test report
// "a second migration container" that was not ours, on loaded machines where runs overlap longest.
std::set<std::string> MigrationContainers(const std::string& image, const std::string& dsn) {
  const std::string db_suffix = "/" + PgServer::DbNameOf(dsn);
  std::set<std::string> names;
  auto r = Podman({"ps", "--no-trunc", "--format", "{{.ID}}\t{{.Names}}\t{{.Image}}\t{{.Command}}"});
  if (!r.ok()) return names;
  std::istringstream in(r->out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string id, name, img, rest;
    std::getline(l, id, '\t');
    std::getline(l, name, '\t');
    std::getline(l, img, '\t');
    std::getline(l, rest);
    if (img != image || rest.find("migrate sql up") == std::string::npos) continue;
    auto env = Podman({"inspect", "--type", "container", "--format", "{{range .Config.Env}}{{println .}}{{end}}", id});
    if (!env.ok()) continue;  // gone in between
    std::istringstream vars(env->out);
    std::string var;
    while (std::getline(vars, var)) {
      if (var.rfind("DSN=", 0) == 0 && var.size() >= db_suffix.size() &&
          var.compare(var.size() - db_suffix.size(), db_suffix.size(), db_suffix) == 0) {
        names.insert(name);
      }
    }
  }
  return names;
}

class CrashOryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { built_ = BuildOryFixtureImages(); }
  void SetUp() override { ASSERT_TRUE(built_.ok()) << built_.ToString(); }
  void TearDown() override {
    for (const auto& n : seen_) (void)Podman({"rm", "-f", "-t", "0", "--ignore", n});
  }
  void Track(const std::set<std::string>& names) { seen_.insert(names.begin(), names.end()); }

  static inline Status built_;
  std::set<std::string> seen_;
};

TEST_F(CrashOryTest, RestartWhileTheKilledRunsMigratorStillRunsStartsNoSecondMigrator) {
  WorldOptions o;
  o.engine = WorldOptions::Engine::kOry;
  o.backup = false;  // pg_dump would queue behind the test's table lock
  CrashWorld w(o);
  ASSERT_EQ(w.setup_error(), "");
  auto holder = ConnectPostgres(w.dsn(), "crash-test-lock-holder");
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  ASSERT_TRUE((*holder)->Exec("BEGIN").ok());
  ASSERT_TRUE((*holder)->Exec("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE").ok());
  const std::string waiters_sql =
      "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";

  auto first = w.StartController("");
  auto deadline = std::chrono::steady_clock::now() + seconds(120);
  std::set<std::string> running;
  while (std::chrono::steady_clock::now() < deadline) {
    running = MigrationContainers(w.new_image(), w.dsn());
    Track(running);
    if (!running.empty() && w.Sql1(waiters_sql) != "0") break;
    ASSERT_FALSE(first->Poll().has_value()) << first->LogTail();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(running.size(), 1u) << "the migration container never blocked on the test's lock\n" << first->LogTail();
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(seconds(30)).has_value());
  ASSERT_EQ(MigrationContainers(w.new_image(), w.dsn()), running) << "the killed run's migrator should still be waiting";

  std::string before = w.StatusStamp();
  auto second = w.StartController("");
  // Watch until the restarted controller either starts its own migrator (the bug) or reports that
  // it waits for the leftover one.
  size_t most = running.size();
  int most_waiters = 1;
  std::string seen_message;
  deadline = std::chrono::steady_clock::now() + seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    auto now = MigrationContainers(w.new_image(), w.dsn());
    Track(now);
    most = std::max(most, now.size());
    most_waiters = std::max(most_waiters, std::atoi(w.Sql1(waiters_sql).c_str()));
    auto st = w.LoadStatus();
    if (st && st->last_error.find("still exists") != std::string::npos) seen_message = st->last_error;
    if (most > 1 || most_waiters > 1 || !seen_message.empty()) break;
    ASSERT_FALSE(second->Poll().has_value()) << second->LogTail();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(most, 1u) << "a second migration container ran beside the leftover one\n" << second->LogTail();
  EXPECT_EQ(most_waiters, 1) << "a second migrator queued on the same lock\n" << second->LogTail();
  EXPECT_NE(seen_message, "") << "the restarted controller never said it waits for the leftover migrator (\"still exists\")\n"
                              << second->LogTail();

  ASSERT_TRUE((*holder)->Exec("ROLLBACK").ok());
  std::string why;
  bool ok = w.WaitForPhase(second.get(), Phase::kSucceeded, seconds(180), &why, before.empty() ? "none" : before);
  second->Signal(SIGTERM);
  auto end = second->Wait(seconds(30));
  ASSERT_TRUE(ok) << why;
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe();
  // Versions the orphaned migrator applied after its controller died have no per-version audit row
  // (nobody was left to write it): at most one 'succeeded' row per version.
  w.ExpectConverged(/*audit_exactly_once=*/false);
  EXPECT_TRUE(MigrationContainers(w.new_image(), w.dsn()).empty());
}

TEST_F(CrashOryTest, KilledAsSoonAsTheMigrationContainerRunsThenRestartedConverges) {
  WorldOptions o;
  o.engine = WorldOptions::Engine::kOry;
  CrashWorld w(o);
  ASSERT_EQ(w.setup_error(), "");
  auto first = w.StartController("");
  auto deadline = std::chrono::steady_clock::now() + seconds(120);
  bool caught = false;
  while (std::chrono::steady_clock::now() < deadline && !first->Poll()) {
    auto now = MigrationContainers(w.new_image(), w.dsn());
    Track(now);
    if (!now.empty()) {
      caught = true;
      break;
    }
    auto st = w.LoadStatus();
    if (st && (st->phase == Phase::kBumping || st->phase == Phase::kVerifying || st->phase == Phase::kSucceeded)) break;
  }
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(seconds(30)).has_value());
  RecordProperty("killed_during_migration_container", caught ? "yes" : "no (it finished first)");
  std::string before = w.StatusStamp();
  auto second = w.StartController("");
  std::string why;
  bool ok = w.WaitForPhase(second.get(), Phase::kSucceeded, seconds(180), &why, before.empty() ? "none" : before);
  second->Signal(SIGTERM);
  auto end = second->Wait(seconds(30));
  ASSERT_TRUE(ok) << why;
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe();
  w.ExpectConverged(/*audit_exactly_once=*/false);
}

}  // namespace
}  // namespace su::testing
