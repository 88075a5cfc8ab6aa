// Outages heal by themselves (issue 7, section 3): the real `schema-upgrade controller` against a
// PostgreSQL of the test's own, stopped (fast shutdown) and started again on the same port. While
// it is down, resources that were Succeeded stay Succeeded (Ready=Unknown) with their last
// observed version and image; past the retry budget they are Stalled (an alert), never Failed;
// once it is back they are Ready again, and an upgrade that exhausted its budget during the
// outage finishes, without any annotation, manifest change or `apply`. Waits poll the status
// files with a bound; nothing sleeps for a fixed time.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/integration/controller/controller_world.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

constexpr const char* kV1 = "20260101000001";
constexpr const char* kV2 = "20260101000002";

// A small budget and short backoffs, so that the budget is spent within the outage.
const std::string kRetries = "    retries:\n      limit: 1\n      backoff: {initial: 100ms, max: 500ms}\n";

bool CondIs(const ResourceStatus& s, const std::string& type, const std::string& status, const std::string& reason = "") {
  const Condition* c = FindCondition(s, type);
  return c && c->status == status && (reason.empty() || c->reason == reason);
}

std::string Conds(const ResourceStatus& s) {
  std::string out;
  for (const auto& c : s.conditions) out += c.type + "=" + c.status + "/" + c.reason + " ";
  return out;
}

void ExpectStopsCleanly(ControllerWorld& w) {
  auto end = w.Terminate();
  ASSERT_TRUE(end.has_value()) << "the controller did not stop on SIGTERM\n" << w.process()->LogTail();
  EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe() << "\n" << w.process()->LogTail();
}

TEST(ControllerOutageTest, SucceededResourcesStayReadyOrUnknownDuringAnOutageAndAreReadyAgainAfterIt) {
  PgServer server;
  ControllerWorld w;
  w.UseServer(&server);
  for (const std::string name : {"alpha", "beta"}) {
    w.AddDatabase(name);
    w.AddMigration(name, kV1, "CREATE TABLE things (id int PRIMARY KEY);\n");
    w.AddMigration(name, kV2, "ALTER TABLE things ADD COLUMN note text;\n");
    w.WriteManifestFile(name + ".yaml", w.Manifest(name, "v2", kRetries));
  }
  // A short resync: the controller re-checks Succeeded resources during the outage.
  w.Start({"--workers", "2", "--resync", "1s"});
  std::string why;
  std::map<std::string, ResourceStatus> before;
  for (const std::string name : {"alpha", "beta"}) {
    ASSERT_TRUE(w.WaitFor(name, [](const ResourceStatus& s) {
      return s.phase == Phase::kSucceeded && CondIs(s, "Ready", "True");
    }, &why)) << why;
    before[name] = *w.LoadStatus(name);
    ASSERT_EQ(before[name].current_version, kV2);
    ASSERT_FALSE(before[name].observed_at.empty());
  }

  const std::string paused_at = FormatTime(RealClock()->Now());
  server.Pause();
  // During the outage: never Failed, the last observed version kept, readiness Unknown, and once
  // the budget is spent Stalled=True for alerting.
  std::string bad;
  auto watch = [&](const std::string& name) {
    return [&, name](const ResourceStatus& s) {
      if (s.phase == Phase::kFailed) bad += name + " went Failed: " + s.message + "\n";
      if (s.current_version != kV2) bad += name + " showed database version \"" + s.current_version + "\"\n";
    };
  };
  for (const std::string name : {"alpha", "beta"}) {
    ASSERT_TRUE(w.WaitFor(name, [](const ResourceStatus& s) {
      return CondIs(s, "Ready", "Unknown", "DatabaseUnavailable") && CondIs(s, "Stalled", "True", "RetriesExhausted");
    }, &why, std::chrono::seconds(60), watch(name))) << why;
    auto st = w.LoadStatus(name);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->phase, Phase::kSucceeded) << w.Describe(st);
    EXPECT_EQ(st->current_version, kV2);
    EXPECT_FALSE(st->observed_at.empty());
    EXPECT_LE(st->observed_at, paused_at) << "the observation time of the kept version";
    EXPECT_FALSE(st->next_retry_at.empty()) << "it is still retried";
    EXPECT_EQ(st->failure_action, "") << "onFailure is for permanent failures";
    EXPECT_GT(st->attempts, 1);
  }
  std::string status_text = w.StatusCliJson();
  EXPECT_NE(status_text.find("\"observedAt\""), std::string::npos) << status_text;

  server.Resume();
  const std::string resumed_at = FormatTime(RealClock()->Now());
  // Back: Ready again by itself (the scheduled retries), no annotation, no manifest change.
  for (const std::string name : {"alpha", "beta"}) {
    ASSERT_TRUE(w.WaitFor(name, [](const ResourceStatus& s) {
      return s.phase == Phase::kSucceeded && CondIs(s, "Ready", "True", "Succeeded") && CondIs(s, "Stalled", "False");
    }, &why, std::chrono::seconds(60), watch(name))) << why;
    auto st = w.LoadStatus(name);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->attempts, 0);
    EXPECT_EQ(st->next_retry_at, "");
    EXPECT_GE(st->observed_at, resumed_at) << "observed again after the outage";
    EXPECT_EQ(w.HistoryCounts(name), std::string(kV1) + ":1," + kV2 + ":1");
  }
  EXPECT_EQ(bad, "") << bad;
  ExpectStopsCleanly(w);
}

TEST(ControllerOutageTest, AnUpgradeThatSpentItsRetryBudgetDuringAnOutageFinishesWhenTheDatabaseReturns) {
  PgServer server;
  ControllerWorld w;
  w.UseServer(&server);
  w.AddDatabase("late");
  w.AddMigration("late", kV1, "CREATE TABLE things (id int PRIMARY KEY);\n");
  w.AddMigration("late", kV2, "ALTER TABLE things ADD COLUMN note text;\n");
  w.WriteManifestFile("late.yaml", w.Manifest("late", "v2", kRetries));
  server.Pause();
  w.Start({"--workers", "1", "--resync", "10m"});

  std::string why;
  bool saw_failed = false;
  ASSERT_TRUE(w.WaitFor("late", [](const ResourceStatus& s) {
    return CondIs(s, "Stalled", "True", "RetriesExhausted") && s.attempts >= 3;
  }, &why, std::chrono::seconds(60), [&](const ResourceStatus& s) { saw_failed |= s.phase == Phase::kFailed; }))
      << why;
  auto st = w.LoadStatus("late");
  ASSERT_TRUE(st);
  EXPECT_NE(st->phase, Phase::kFailed) << w.Describe(st) << " " << Conds(*st);
  EXPECT_FALSE(st->next_retry_at.empty());
  EXPECT_EQ(st->failure_action, "");

  server.Resume();
  ASSERT_TRUE(w.WaitFor("late", [](const ResourceStatus& s) {
    return s.phase == Phase::kSucceeded && s.target_version == "v2" && CondIs(s, "Ready", "True");
  }, &why, std::chrono::seconds(60), [&](const ResourceStatus& s) { saw_failed |= s.phase == Phase::kFailed; }))
      << why;
  EXPECT_FALSE(saw_failed) << "the resource went Failed on a transient failure";
  st = w.LoadStatus("late");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->current_version, kV2);
  EXPECT_TRUE(CondIs(*st, "Stalled", "False")) << Conds(*st);
  EXPECT_EQ(w.HistoryCounts("late"), std::string(kV1) + ":1," + kV2 + ":1");
  EXPECT_EQ(server.password().empty(), false);
  EXPECT_EQ(w.Log().find(server.password()), std::string::npos) << "the DSN password leaked into the log";
  ExpectStopsCleanly(w);
}

}  // namespace
}  // namespace su::testing
