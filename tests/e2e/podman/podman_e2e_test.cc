// End to end on Podman: the Olympus CIAM stack (Kratos, Hydra, Athena fixture images) under real
// podman-compose on a real PostgreSQL, upgraded by the real `schema-upgrade controller`.
//  - all three bumped: migrations first, each applied exactly once (history table, drizzle table,
//    audit log), new images running, only the compose file's image lines changed, SIGTERM -> exit 0
//    with no advisory lock left;
//  - the forgotten-migration failure reproduced with plain podman-compose ("schema mismatch"), and
//    the same bump through a manifest running migrations first;
//  - a broken upgrade (kratos v1.2.1-broken, onFailure rollbackImage): Failed, the failure action
//    and the migrator's last lines recorded, the old container still running;
//  - SIGTERM in the middle of an upgrade: exit 0, locks released, a restart converges.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#include "reconcilers/base/sha256.h"
#include "tests/e2e/podman/ciam_stack.h"
#include "tests/support/cli_runner.h"

namespace su::testing {
namespace {

constexpr auto kConverge = std::chrono::seconds(180);  // hang guard, not a performance bound
constexpr auto kStop = std::chrono::seconds(60);

const char* kPolicy =
    "    backup:\n"
    "      enabled: true\n"
    "    retries:\n"
    "      limit: 0\n"
    "    onFailure: rollbackImage\n"
    "    verify:\n"
    "      settle: 1s\n";

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// SIGTERM, then the controller must exit 0 within a bound.
void StopController(BackgroundProcess* p) {
  p->Signal(SIGTERM);
  auto end = p->Wait(kStop);
  ASSERT_TRUE(end.has_value()) << "the controller ignored SIGTERM\n" << p->LogTail();
  EXPECT_TRUE(end->exited && end->exit_code == 0) << "controller " << end->Describe() << " on SIGTERM\n"
                                                  << p->LogTail();
}

class PodmanE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status built = BuildFixtureImages();
    ASSERT_TRUE(built.ok()) << built.ToString();
  }

  // The service runs its new image, its history holds the old and new versions exactly once, and the
  // audit log shows each version applied once, before the one bump.
  void ExpectUpgraded(CiamStack& stack, const CiamService& s) {
    SCOPED_TRACE(s.key);
    auto [state, image] = stack.PsRow(s.container);
    EXPECT_EQ(state, "running");
    EXPECT_EQ(image, s.new_image);

    std::vector<std::string> all = s.old_versions;
    all.insert(all.end(), s.new_versions.begin(), s.new_versions.end());
    if (s.key == "athena") {
      // drizzle-orm's record: sha256 of each file of the journal, in order, once.
      std::vector<std::string> want;
      for (const auto& tag : all) {
        want.push_back(Sha256Hex(ReadFile(SourceDir() + "/tests/fixtures/images/athena/" + s.new_version + "/" + tag +
                                          ".sql")));
      }
      EXPECT_EQ(Join(stack.Column(s.key, "SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id")), Join(want));
    } else {
      EXPECT_EQ(Join(stack.Column(s.key, "SELECT version FROM schema_migration ORDER BY version")), Join(all));
    }
    // Audit: one succeeded 'up' row per version (the bootstrap's and the upgrade's), one bump, and
    // the bump after every migration of the upgrade.
    EXPECT_EQ(Join(stack.Column(s.key,
                                "SELECT version || ':' || count(*) FROM schema_upgrade_log WHERE resource = $1 "
                                "AND direction = 'up' AND status = 'succeeded' AND version <> '' "
                                "GROUP BY version ORDER BY version",
                                {s.Resource()})),
              [&] {
                std::vector<std::string> once;
                for (const auto& v : all) once.push_back(v + ":1");
                return Join(once);
              }());
    auto bumps = stack.Column(s.key,
                              "SELECT id FROM schema_upgrade_log WHERE resource = $1 AND direction = 'bump' "
                              "AND status = 'succeeded'",
                              {s.Resource()});
    ASSERT_EQ(bumps.size(), 1u) << "the image was bumped " << bumps.size() << " times";
    auto last_up = stack.Column(s.key,
                                "SELECT max(id) FROM schema_upgrade_log WHERE resource = $1 AND direction = 'up' "
                                "AND version <> ''",
                                {s.Resource()});
    ASSERT_EQ(last_up.size(), 1u);
    EXPECT_GT(std::stoll(bumps[0]), std::stoll(last_up[0])) << "the image was bumped before the migrations ran";

    auto st = stack.LoadStatus(s.Resource());
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(PhaseName(st->phase), std::string("Succeeded"));
    EXPECT_EQ(st->image, s.new_image);
    EXPECT_EQ(st->previous_image, s.old_image);
    std::vector<std::string> applied;
    for (const auto& a : st->applied) applied.push_back(a.version);
    EXPECT_EQ(Join(applied), Join(s.new_versions));
  }
};

TEST_F(PodmanE2eTest, ControllerMigratesThenBumpsKratosHydraAndAthena) {
  CiamStack stack({StockService("kratos"), StockService("hydra"), StockService("athena")});
  Status up = stack.Up();
  ASSERT_TRUE(up.ok()) << up.ToString();
  for (const auto& s : stack.services()) stack.WriteManifest(s, kPolicy);

  auto controller = stack.StartController();
  std::string why;
  ASSERT_TRUE(stack.WaitForPhases(controller.get(), stack.Resources(), Phase::kSucceeded, kConverge, &why))
      << why;
  StopController(controller.get());
  EXPECT_EQ(stack.AdvisoryLocks(), "0") << "advisory locks left after SIGTERM";

  for (const auto& s : stack.services()) ExpectUpgraded(stack, s);

  // The compose file: the three image lines changed, every other byte (comments, quoting) kept.
  std::string want = stack.compose_text();
  for (const auto& s : stack.services()) want = Replace(want, "image: " + s.old_image, "image: " + s.new_image);
  EXPECT_EQ(stack.ReadCompose(), want);

  // `status --all -o json` reports the three as Succeeded at the new images.
  CliResult st = RunCli({"status", "--all", "-o", "json", "--state-dir", stack.state_dir()}, stack.Env());
  ASSERT_EQ(st.exit_code, 0) << st.err;
  for (const auto& s : stack.services()) {
    EXPECT_NE(st.out.find("\"image\":\"" + s.new_image + "\""), std::string::npos) << st.out;
  }
  // No DSN (password) in anything the tool printed.
  for (const auto& s : stack.services()) {
    EXPECT_EQ(st.out.find(s.dsn), std::string::npos);
    EXPECT_EQ(ReadFile(controller->log_path()).find(s.dsn), std::string::npos) << "a DSN leaked into the log";
  }
}

TEST_F(PodmanE2eTest, ForgottenMigrationBreaksPlainComposeAndTheControllerPreventsIt) {
  CiamStack stack({StockService("kratos")});
  Status up = stack.Up();
  ASSERT_TRUE(up.ok()) << up.ToString();
  CiamService& k = stack.service("kratos");

  // The old runbook without its first step: edit the tag, recreate the service.
  std::string bumped = Replace(stack.compose_text(), "image: " + k.old_image, "image: " + k.new_image);
  std::ofstream(stack.compose_file()) << bumped;
  // podman-compose 1.0.3's `up -d` restarts an existing container as it was: an operator removes it first.
  ASSERT_TRUE(Podman({"rm", "-f", "-t", "2", k.container}).ok());
  auto r = stack.Compose({"up", "-d", "kratos"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(stack.WaitExited(k.container, std::chrono::seconds(60)), "exited");
  auto inspect = Podman({"inspect", "--type", "container", "--format", "{{.State.ExitCode}} {{.ImageName}}",
                         k.container});
  ASSERT_TRUE(inspect.ok() && inspect->Succeeded());
  EXPECT_EQ(inspect->out, "1 " + k.new_image + "\n");
  auto logs = Podman({"logs", k.container});
  ASSERT_TRUE(logs.ok());
  EXPECT_NE((logs->out + logs->err).find("schema mismatch"), std::string::npos) << logs->out << logs->err;
  EXPECT_EQ(Join(stack.Column("kratos", "SELECT version FROM schema_migration ORDER BY version")),
            Join(k.old_versions))
      << "nothing migrated the database";

  // Back to the old tag (the operator's rollback), then the same bump as a manifest.
  std::ofstream(stack.compose_file()) << stack.compose_text();
  ASSERT_TRUE(Podman({"rm", "-f", "-t", "2", k.container}).ok());
  ASSERT_TRUE(stack.Compose({"up", "-d", "kratos"}).ok());
  ASSERT_EQ(stack.PsRow(k.container), std::make_pair(std::string("running"), k.old_image));

  stack.WriteManifest(k, kPolicy);
  auto controller = stack.StartController();
  std::string why;
  ASSERT_TRUE(stack.WaitForPhases(controller.get(), {k.Resource()}, Phase::kSucceeded, kConverge, &why)) << why;
  StopController(controller.get());
  ExpectUpgraded(stack, k);
  EXPECT_EQ(stack.ReadCompose(), bumped) << "the controller's edit differs from the operator's";
}

TEST_F(PodmanE2eTest, BrokenUpgradeFailsRecordsWhyAndKeepsTheOldImageRunning) {
  CiamService k = StockService("kratos");
  k.new_version = "v1.2.1-broken";
  k.new_image = "localhost/oryd/kratos:v1.2.1-broken";
  CiamStack stack({k});
  Status up = stack.Up();
  ASSERT_TRUE(up.ok()) << up.ToString();
  const CiamService& s = stack.service("kratos");
  stack.WriteManifest(s, kPolicy);

  auto controller = stack.StartController();
  std::string why;
  ASSERT_TRUE(stack.WaitForPhases(controller.get(), {s.Resource()}, Phase::kFailed, kConverge, &why)) << why;
  StopController(controller.get());
  EXPECT_EQ(stack.AdvisoryLocks(), "0");

  auto st = stack.LoadStatus(s.Resource());
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->failure_action.empty()) << "onFailure's action is not recorded";
  // The migrator's last lines, as the fixture prints them when a migration fails.
  EXPECT_NE(st->last_error.find("sessions_backfill_devices"), std::string::npos) << st->last_error;
  EXPECT_NE(st->last_error.find("failed and was rolled back"), std::string::npos) << st->last_error;
  const Condition* stalled = FindCondition(*st, "Stalled");
  ASSERT_NE(stalled, nullptr);
  EXPECT_EQ(stalled->status, "True");

  // The running service was never touched: old image, running, compose file byte for byte.
  EXPECT_EQ(stack.PsRow(s.container), std::make_pair(std::string("running"), s.old_image));
  EXPECT_EQ(stack.ReadCompose(), stack.compose_text());
  // What the broken set did: v1.2.0's three and the first broken migration, the failing one rolled back.
  auto versions = stack.Column("kratos", "SELECT version FROM schema_migration ORDER BY version");
  EXPECT_EQ(versions.size(), 8u) << Join(versions);
  EXPECT_EQ(versions.back(), "20240501000001000000");
  EXPECT_TRUE(stack
                  .Column("kratos",
                          "SELECT id FROM schema_upgrade_log WHERE resource = $1 AND direction = 'bump' "
                          "AND status = 'succeeded'",
                          {s.Resource()})
                  .empty())
      << "a failed migration must not lead to a bump";

  CliResult text = RunCli({"status", "--all", "--state-dir", stack.state_dir()}, stack.Env());
  EXPECT_NE(text.out.find("Failed"), std::string::npos) << text.out;
}

// The bump itself fails: the manifest points Athena v1.1.0 at v1.0.0's Drizzle folder (nothing
// pending), so the new container exits with "schema mismatch"; verify sees it, rollbackImage puts
// the old tag back and restarts it, and lastError carries the container's last log lines.
TEST_F(PodmanE2eTest, NewContainerThatExitsIsRolledBackWithItsLastLogLines) {
  CiamService a = StockService("athena");
  a.drizzle_folder = "v1.0.0";
  CiamStack stack({a});
  Status up = stack.Up();
  ASSERT_TRUE(up.ok()) << up.ToString();
  const CiamService& s = stack.service("athena");
  stack.WriteManifest(s, kPolicy);

  auto controller = stack.StartController();
  std::string why;
  ASSERT_TRUE(stack.WaitForPhases(controller.get(), {s.Resource()}, Phase::kFailed, kConverge, &why)) << why;
  StopController(controller.get());

  auto st = stack.LoadStatus(s.Resource());
  ASSERT_TRUE(st.has_value());
  EXPECT_NE(st->failure_action.find("rollback"), std::string::npos) << st->failure_action;
  EXPECT_NE(st->last_error.find("schema mismatch"), std::string::npos) << st->last_error;
  EXPECT_EQ(stack.PsRow(s.container), std::make_pair(std::string("running"), s.old_image));
  EXPECT_EQ(stack.ReadCompose(), stack.compose_text()) << "the old tag is not back in the compose file";
  EXPECT_EQ(stack.Column("athena", "SELECT count(*) FROM drizzle.__drizzle_migrations"),
            std::vector<std::string>{"2"});
}

TEST_F(PodmanE2eTest, SigtermMidUpgradeExitsZeroReleasesLocksAndARestartConverges) {
  CiamStack stack({StockService("kratos"), StockService("hydra")});
  Status up = stack.Up();
  ASSERT_TRUE(up.ok()) << up.ToString();
  // Retries allowed here: a migrator abandoned by the stop may still be exiting when the restarted
  // controller looks (the ory engine then backs off with LockBusy, which is an attempt).
  for (const auto& s : stack.services()) {
    stack.WriteManifest(s, "    retries:\n      limit: 2\n      backoff: {initial: 1s, max: 2s}\n"
                           "    onFailure: rollbackImage\n    verify:\n      settle: 1s\n");
  }

  auto controller = stack.StartController();
  // Wait until work has started on some resource (any phase past Pending), then stop.
  auto until = std::chrono::steady_clock::now() + kConverge;
  bool started = false;
  while (!started && std::chrono::steady_clock::now() < until && !controller->Poll()) {
    for (const auto& r : stack.Resources()) {
      auto st = stack.LoadStatus(r);
      if (st && st->phase != Phase::kPending) started = true;
    }
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(started) << controller->LogTail();
  StopController(controller.get());
  EXPECT_EQ(stack.AdvisoryLocks(), "0") << "advisory locks left after SIGTERM";
  for (const auto& r : stack.Resources()) {
    auto st = stack.LoadStatus(r);
    if (!st) continue;
    EXPECT_NE(PhaseName(st->phase), std::string("Failed")) << r << ": a SIGTERM is not a failure";
    EXPECT_EQ(st->attempts, 0) << r << ": a SIGTERM spent the retry budget (" << st->message << ")";
  }

  auto again = stack.StartController();
  std::string why;
  ASSERT_TRUE(stack.WaitForPhases(again.get(), stack.Resources(), Phase::kSucceeded, kConverge, &why)) << why;
  StopController(again.get());
  for (const auto& s : stack.services()) ExpectUpgraded(stack, s);
}

}  // namespace
}  // namespace su::testing
