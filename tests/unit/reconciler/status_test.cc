// ResourceStatus: phases, conditions, JSON round trip of every field, the text rendering, and the
// directory / memory stores (temp dir, corrupt files).
#include <gtest/gtest.h>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/text_check.h"
#include "reconcilers/schemaupgrade/status_json.h"
#include "reconcilers/schemaupgrade/status_store.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

Clock::TimePoint T(const char* s) {
  Clock::TimePoint t;
  EXPECT_TRUE(ParseTime(s, &t));
  return t;
}

ResourceStatus Full() {
  ResourceStatus s;
  s.resource = "ciam/kratos";
  s.observed_generation = 7;
  s.spec_hash = "0123456789abcdef";
  s.phase = Phase::kVerifying;
  s.message = "checking that ciam-kratos runs \"v1.2.0\" and stays up";
  s.current_version = "20240201000003";
  s.target_version = "v1.2.0";
  s.image = "localhost/oryd/kratos:v1.2.0";
  s.previous_image = "localhost/oryd/kratos:v1.1.0";
  s.plan_hash = "fedcba9876543210";
  s.pending = {"20240201000004", "20240201000005"};
  s.applied = {{"20240201000001", "identities", 1234, "2026-03-02T10:00:01Z"},
               {"20240201000002", "sessions", 5, "2026-03-02T10:00:02Z"}};
  s.attempts = 2;
  s.last_error = "lock_timeout: canceling statement due to lock timeout";
  s.next_retry_at = "2026-03-02T10:05:00Z";
  s.failure_action = "rollbackImage: image restored to localhost/oryd/kratos:v1.1.0";
  s.backup = BackupRecord{};
  s.backup->path = "/state/backups/ciam_kratos_x.dump";
  s.backup->size_bytes = 123456789012LL;
  s.backup->taken_at = "2026-03-02T09:59:00Z";
  s.backup->plan_hash = "fedcba9876543210";
  s.blocked_sessions = {{77, "checkout-api", 12000, "UPDATE identities SET x = 1"}};
  s.backfill = BackfillProgress{"20240201000003", 250000, 1000000, 8012, 94, "2026-03-02T10:00:02Z"};
  s.conditions = {{"Ready", "False", "Verifying", "checking", 7, "2026-03-02T10:00:00Z"},
                  {"Stalled", "False", "Verifying", "", 6, "2026-03-01T10:00:00Z"}};
  s.path_step = "v1.2.0";
  s.path_step_started_at = "2026-03-02T09:58:00Z";
  s.path_done = {"v1.1.5"};
  UndoProgress u;
  u.policy = "rollback";
  u.plan_hash = "fedcba9876543210";
  u.target_version = "v1.2.0";
  u.generation = 7;
  u.start_version = "20240101000001";
  u.start_image = "localhost/oryd/kratos:v1.1.0";
  u.from_image = "localhost/oryd/kratos:v1.2.0";
  u.image_bumped = true;
  u.failure = "ciam-kratos exited with code 1";
  u.failure_code = "Failed";
  u.reason = "VerifyFailed";
  u.attempts = 1;
  u.audit_from = 41;
  u.engine_audit_from = 12;
  u.started_at = "2026-03-02T10:00:02Z";
  u.done = {"image"};
  u.image_result = "rollbackImage: image restored to localhost/oryd/kratos:v1.1.0";
  u.schema_note = " (engine ory has no down migrations)";
  s.undo = u;
  s.updated_at = "2026-03-02T10:00:03Z";
  return s;
}

TEST(PhaseTest, NamesParseBack) {
  for (Phase p : kAllPhases) {
    Phase back = Phase::kPending;
    ASSERT_TRUE(ParsePhase(PhaseName(p), &back)) << PhaseName(p);
    EXPECT_EQ(back, p);
  }
  Phase out;
  EXPECT_FALSE(ParsePhase("succeeded", &out));
  EXPECT_FALSE(ParsePhase("", &out));
}

TEST(ConditionTest, TransitionTimeMovesOnlyWhenStatusChanges) {
  ResourceStatus s;
  SetCondition(&s, "Ready", "False", "Migrating", "applying", 1, T("2026-03-02T10:00:00Z"));
  SetCondition(&s, "Ready", "False", "Bumping", "bumping", 2, T("2026-03-02T10:01:00Z"));
  ASSERT_EQ(s.conditions.size(), 1u);
  EXPECT_EQ(s.conditions[0].last_transition_time, "2026-03-02T10:00:00Z");
  EXPECT_EQ(s.conditions[0].reason, "Bumping");
  EXPECT_EQ(s.conditions[0].observed_generation, 2);
  SetCondition(&s, "Ready", "True", "Succeeded", "done", 2, T("2026-03-02T10:02:00Z"));
  EXPECT_EQ(s.conditions[0].last_transition_time, "2026-03-02T10:02:00Z");
  SetCondition(&s, "Stalled", "False", "Succeeded", "", 2, T("2026-03-02T10:02:00Z"));
  EXPECT_EQ(s.conditions.size(), 2u);
  ASSERT_NE(FindCondition(s, "Stalled"), nullptr);
  EXPECT_EQ(FindCondition(s, "Reconciling"), nullptr);
}

TEST(StatusJsonTest, RoundTripsEveryField) {
  ResourceStatus s = Full();
  std::string json = StatusToJson(s);
  ResourceStatus back;
  std::string err;
  ASSERT_TRUE(StatusFromJson(json, &back, &err)) << err;
  EXPECT_EQ(back.resource, s.resource);
  EXPECT_EQ(back.observed_generation, s.observed_generation);
  EXPECT_EQ(back.spec_hash, s.spec_hash);
  EXPECT_EQ(back.phase, s.phase);
  EXPECT_EQ(back.message, s.message);
  EXPECT_EQ(back.current_version, s.current_version);
  EXPECT_EQ(back.target_version, s.target_version);
  EXPECT_EQ(back.image, s.image);
  EXPECT_EQ(back.previous_image, s.previous_image);
  EXPECT_EQ(back.plan_hash, s.plan_hash);
  EXPECT_EQ(back.pending, s.pending);
  ASSERT_EQ(back.applied.size(), 2u);
  EXPECT_EQ(back.applied[0].version, "20240201000001");
  EXPECT_EQ(back.applied[0].name, "identities");
  EXPECT_EQ(back.applied[0].duration_ms, 1234);
  EXPECT_EQ(back.applied[1].applied_at, "2026-03-02T10:00:02Z");
  EXPECT_EQ(back.attempts, 2);
  EXPECT_EQ(back.last_error, s.last_error);
  EXPECT_EQ(back.next_retry_at, s.next_retry_at);
  EXPECT_EQ(back.failure_action, s.failure_action);
  ASSERT_TRUE(back.backup.has_value());
  EXPECT_EQ(back.backup->path, s.backup->path);
  EXPECT_EQ(back.backup->size_bytes, 123456789012LL);
  EXPECT_EQ(back.backup->taken_at, s.backup->taken_at);
  EXPECT_EQ(back.backup->plan_hash, s.backup->plan_hash);
  ASSERT_EQ(back.blocked_sessions.size(), 1u);
  EXPECT_EQ(back.blocked_sessions[0].pid, 77);
  EXPECT_EQ(back.blocked_sessions[0].application_name, "checkout-api");
  EXPECT_EQ(back.blocked_sessions[0].waiting_ms, 12000);
  EXPECT_EQ(back.blocked_sessions[0].query, "UPDATE identities SET x = 1");
  ASSERT_TRUE(back.backfill.has_value());
  EXPECT_EQ(*back.backfill, *s.backfill);
  ASSERT_EQ(back.conditions.size(), 2u);
  EXPECT_EQ(back.conditions[1].type, "Stalled");
  EXPECT_EQ(back.conditions[1].status, "False");
  EXPECT_EQ(back.conditions[1].reason, "Verifying");
  EXPECT_EQ(back.conditions[1].message, "");
  EXPECT_EQ(back.conditions[1].observed_generation, 6);
  EXPECT_EQ(back.conditions[1].last_transition_time, "2026-03-01T10:00:00Z");
  EXPECT_EQ(back.conditions[0].message, "checking");
  EXPECT_EQ(back.updated_at, s.updated_at);
  EXPECT_EQ(back.path_step, "v1.2.0");
  EXPECT_EQ(back.path_step_started_at, "2026-03-02T09:58:00Z");
  EXPECT_EQ(back.path_done, (std::vector<std::string>{"v1.1.5"}));
  ASSERT_TRUE(back.undo.has_value());
  EXPECT_EQ(*back.undo, *s.undo);
  EXPECT_EQ(back, s) << "every field round-trips";
  EXPECT_EQ(StatusToJson(back), json) << "a second round trip is identical";
}

TEST(StatusJsonTest, StaysValidUtf8WhateverBytesAMessageQuotes) {
  ResourceStatus s;
  s.resource = "a/b";
  s.message = "failed at line 2: select \xff\xfe";
  s.last_error = std::string("cut \xc3");
  std::string json = StatusToJson(s);
  EXPECT_EQ(FirstInvalidUtf8(json), std::string::npos) << json;
  ResourceStatus back;
  std::string err;
  ASSERT_TRUE(StatusFromJson(json, &back, &err)) << err;
  EXPECT_EQ(back.message, "failed at line 2: select \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StatusJsonTest, AbsentBackupStaysAbsentAndEmptyStatusRoundTrips) {
  ResourceStatus s;
  ResourceStatus back;
  std::string err;
  ASSERT_TRUE(StatusFromJson(StatusToJson(s), &back, &err)) << err;
  EXPECT_FALSE(back.backup.has_value());
  EXPECT_FALSE(back.backfill.has_value());
  EXPECT_FALSE(back.undo.has_value()) << "no rollback under way: no status.undo";
  EXPECT_EQ(StatusToJson(s).find("\"undo\""), std::string::npos);
  EXPECT_EQ(back.phase, Phase::kPending);
  EXPECT_TRUE(back.conditions.empty());
}

TEST(StatusJsonTest, ParseErrorsSayWhatIsWrong) {
  ResourceStatus out;
  std::string err;
  EXPECT_FALSE(StatusFromJson("{not json", &out, &err));
  EXPECT_NE(err.find("invalid JSON"), std::string::npos) << err;
  EXPECT_FALSE(StatusFromJson("[1,2]", &out, &err));
  EXPECT_NE(err.find("not a JSON object"), std::string::npos) << err;
  EXPECT_FALSE(StatusFromJson(R"({"phase":"Exploded"})", &out, &err));
  EXPECT_NE(err.find("Exploded"), std::string::npos) << err;
}

TEST(StatusTextTest, SummarisesTheStatus) {
  std::string t = RenderStatusText(Full());
  for (const char* want : {"ciam/kratos: Verifying", "database 20240201000003, target v1.2.0",
                           "(was localhost/oryd/kratos:v1.1.0)", "pending:     20240201000004, 20240201000005",
                           "20240201000001 identities  1234 ms", "attempts:    2", "last error:", "on failure:",
                           "next retry:  2026-03-02T10:05:00Z", "backup:      /state/backups/ciam_kratos_x.dump",
                           "pid 77 (checkout-api)", "Ready=False Verifying", "plan hash:   fedcba9876543210",
                           "path:        step v1.2.0; done v1.1.5\n"}) {
    EXPECT_NE(t.find(want), std::string::npos) << "missing \"" << want << "\" in:\n" << t;
  }
}

TEST(DirStatusStoreTest, SaveLoadListInADirectory) {
  TempDir tmp;
  std::string dir = tmp.Path("state/status");
  auto store = NewDirStatusStore(LocalFileSystem(), dir);

  auto missing = store->Load("ciam/kratos");
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_FALSE(missing->has_value());
  auto empty = store->List();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty()) << "a missing directory lists nothing";

  ResourceStatus a = Full();
  ResourceStatus b;
  b.resource = "apps/athena";
  b.phase = Phase::kSucceeded;
  ASSERT_TRUE(store->Save("ciam/kratos", a).ok());
  ASSERT_TRUE(store->Save("apps/athena", b).ok());
  EXPECT_TRUE(LocalFileSystem()->Exists(dir + "/ciam__kratos.json"));
  EXPECT_TRUE(LocalFileSystem()->Exists(dir + "/apps__athena.json"));

  auto loaded = store->Load("ciam/kratos");
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ(StatusToJson(**loaded), StatusToJson(a));

  a.phase = Phase::kSucceeded;
  a.attempts = 0;
  ASSERT_TRUE(store->Save("ciam/kratos", a).ok());
  EXPECT_EQ((*store->Load("ciam/kratos"))->phase, Phase::kSucceeded) << "Save replaces";

  // A fresh store over the same directory (a restart) sees both.
  auto again = NewDirStatusStore(LocalFileSystem(), dir);
  auto all = again->List();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at("apps/athena").phase, Phase::kSucceeded);
  EXPECT_EQ(all->at("ciam/kratos").previous_image, "localhost/oryd/kratos:v1.1.0");
  auto names = LocalFileSystem()->ListDir(dir);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 2u) << "no temp files left behind";
}

TEST(DirStatusStoreTest, CorruptFileIsAClearErrorNamingTheFile) {
  TempDir tmp;
  auto store = NewDirStatusStore(LocalFileSystem(), tmp.path());
  std::string path = tmp.Write("ciam__kratos.json", "{\"phase\": \"Succeeded\", ");
  auto r = store->Load("ciam/kratos");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("delete the file"), std::string::npos) << r.status().ToString();
  auto all = store->List();
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("ciam__kratos.json"), std::string::npos) << all.status().ToString();
}

TEST(MemoryStatusStoreTest, SaveLoadList) {
  auto store = NewMemoryStatusStore();
  EXPECT_FALSE(store->Load("a/b")->has_value());
  ResourceStatus s = Full();
  ASSERT_TRUE(store->Save("a/b", s).ok());
  EXPECT_EQ(StatusToJson(**store->Load("a/b")), StatusToJson(s));
  EXPECT_EQ(store->List()->size(), 1u);
}

}  // namespace
}  // namespace su::testing
