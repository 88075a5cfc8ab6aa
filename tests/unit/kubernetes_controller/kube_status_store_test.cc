// KubeStatusStore: status subresource merge patches with a resourceVersion precondition, 409 retry,
// and Load from the cache overlaid with our own last write.
#include "controller/kubernetes/kube_status_store.h"

// cpprest's U() macro collides with gtest's template parameters.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>
#include <gtest/gtest.h>

#include <chrono>

#include "tests/support/fakes/fake_kube_api.h"

namespace su::kube {
namespace {

using web::json::value;

std::string Obj(const std::string& rv, const std::string& status = "", const std::string& uid = "u-1") {
  std::string s = R"({"apiVersion":"olympus.io/v1alpha1","kind":"SchemaUpgrade","metadata":{"name":"app","namespace":"shop","uid":")" +
                  uid + R"(","resourceVersion":")" + rv + R"(","generation":2},"spec":{"targetVersion":"v2"})";
  if (!status.empty()) s += R"(,"status":)" + status;
  return s + "}";
}

ResourceStatus St(Phase p, const std::string& msg) {
  ResourceStatus s;
  s.resource = "shop/app";
  s.phase = p;
  s.message = msg;
  s.observed_generation = 2;
  SetCondition(&s, "Ready", p == Phase::kSucceeded ? "True" : "False", PhaseName(p), msg, 2, RealClock()->Now());
  return s;
}

struct Fixture {
  testing::FakeKubeApi api;
  std::optional<std::string> cache;
  std::chrono::steady_clock::time_point now{};
  std::unique_ptr<KubeStatusStore> store;
  explicit Fixture(std::chrono::milliseconds refresh = std::chrono::hours(1)) {
    KubeStatusStoreOptions o;
    o.api = &api;
    o.cached = [this](const std::string&) { return cache; };
    o.keys = [] { return std::vector<std::string>{"shop/app"}; };
    o.timestamps_refresh = refresh;
    o.now = [this] { return now; };
    store = std::make_unique<KubeStatusStore>(o);
  }
};

// The status as the server stores it (pruned to the CRD schema: no `resource`).
std::string Served(const ResourceStatus& s) {
  value v = value::parse(StatusToJson(s));
  v.erase("resource");
  return v.serialize();
}

// A no-op pass's status: the previous one with new observedAt/updatedAt.
ResourceStatus Stamped(ResourceStatus s, const std::string& at) {
  s.observed_at = at;
  s.updated_at = at;
  return s;
}

TEST(KubeStatusStore, SavePatchesOnlyStatusWithTheResourceVersionAsPrecondition) {
  Fixture f;
  f.cache = Obj("10");
  f.api.AddWrite(Obj("11", StatusToJson(St(Phase::kMigrating, "applying"))));
  ASSERT_TRUE(f.store->Save("shop/app", St(Phase::kMigrating, "applying")).ok());
  auto calls = f.api.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].verb, "patch");
  EXPECT_EQ(calls[0].url, "/apis/olympus.io/v1alpha1/namespaces/shop/schemaupgrades/app/status");
  value patch = value::parse(calls[0].body);
  EXPECT_EQ(patch.at("metadata").at("resourceVersion").as_string(), "10");
  EXPECT_FALSE(patch.has_field("spec"));
  EXPECT_EQ(patch.at("status").at("phase").as_string(), "Migrating");
  EXPECT_EQ(patch.at("status").at("observedGeneration").as_integer(), 2);
  EXPECT_FALSE(patch.at("status").has_field("resource"));  // not in the CRD's schema
}

TEST(KubeStatusStore, AConflictReReadsTheObjectAndRetries) {
  Fixture f;
  f.cache = Obj("10");
  f.api.AddWrite(ApiErrorFromResponse(409, R"({"kind":"Status","reason":"Conflict","message":"the object has been modified"})",
                                      "PATCH", "x"));
  f.api.AddWrite(Obj("12", R"({"phase":"Pending","backup":{"path":"/b"}})"));  // the GET: someone wrote meanwhile
  f.api.AddWrite(Obj("13", StatusToJson(St(Phase::kSucceeded, "done"))));
  ASSERT_TRUE(f.store->Save("shop/app", St(Phase::kSucceeded, "done")).ok());
  auto calls = f.api.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1].verb, "get");
  EXPECT_EQ(calls[1].url, "/apis/olympus.io/v1alpha1/namespaces/shop/schemaupgrades/app");
  value patch = value::parse(calls[2].body);
  EXPECT_EQ(patch.at("metadata").at("resourceVersion").as_string(), "12");
  EXPECT_TRUE(patch.at("status").at("backup").is_null());  // removed: the new status has no backup
  EXPECT_EQ(f.store->conflicts(), 1);
}

TEST(KubeStatusStore, GivesUpAfterTheConflictBudgetAsRetryable) {
  Fixture f;
  f.cache = Obj("10");
  for (int i = 0; i < 6; ++i) {
    f.api.AddWrite(ApiErrorFromResponse(409, R"({"kind":"Status","reason":"Conflict"})", "PATCH", "x"));
    f.api.AddWrite(Obj("1" + std::to_string(i)));
  }
  Status s = f.store->Save("shop/app", St(Phase::kPending, "x"));
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
}

TEST(KubeStatusStore, LoadPrefersOurLastWriteOverALaggingCache) {
  Fixture f;
  f.cache = Obj("10", StatusToJson(St(Phase::kPending, "old")));
  auto first = f.store->Load("shop/app");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->message, "old");
  EXPECT_EQ((*first)->resource, "shop/app");
  f.api.AddWrite(Obj("11", StatusToJson(St(Phase::kMigrating, "new"))));
  ASSERT_TRUE(f.store->Save("shop/app", St(Phase::kMigrating, "new")).ok());
  auto second = f.store->Load("shop/app");  // the cache still says "old"
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->message, "new");
  // The object was deleted and created again under the same name: its own (empty) status counts.
  f.cache = Obj("20", "", "u-2");
  auto third = f.store->Load("shop/app");
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->has_value());
}

// Once the cache holds our write (its resourceVersion), the store drops its own copy of the status:
// Load reads the cache, a timestamp-only Save still sends nothing, the next real Save patches against
// the cache's resourceVersion, and a later hand edit in the cache is what Load sees.
TEST(KubeStatusStore, OnceTheCacheHoldsOurWriteItIsReadFromTheCache) {
  Fixture f;
  const ResourceStatus done = St(Phase::kSucceeded, "at target");
  const std::string written = Served(Stamped(done, "2026-12-01T10:00:00Z"));
  f.cache = Obj("10");
  f.api.AddWrite(Obj("11", written));
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T10:00:00Z")).ok());
  f.cache = Obj("11", written);
  auto loaded = f.store->Load("shop/app");  // caught up: from now on the cache is the copy
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->message, "at target");

  f.now += std::chrono::minutes(5);
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T10:05:00Z")).ok());
  EXPECT_EQ(f.api.calls().size(), 1u) << "a timestamp-only change was sent";

  f.api.AddWrite(Obj("12", Served(St(Phase::kFailed, "broke"))));
  ASSERT_TRUE(f.store->Save("shop/app", St(Phase::kFailed, "broke")).ok());
  ASSERT_EQ(f.api.calls().size(), 2u);
  EXPECT_EQ(value::parse(f.api.calls()[1].body).at("metadata").at("resourceVersion").as_string(), "11");
  f.cache = Obj("12", Served(St(Phase::kFailed, "broke")));
  ASSERT_TRUE(f.store->Load("shop/app").ok());  // caught up again

  f.cache = Obj("13", R"({"phase":"Pending","message":"edited by hand"})");
  auto edited = f.store->Load("shop/app");
  ASSERT_TRUE(edited.ok() && edited->has_value());
  EXPECT_EQ((*edited)->message, "edited by hand");
  // ... and a timestamp-only Save of our status is not skipped over the edit.
  f.api.AddWrite(Obj("14", Served(St(Phase::kFailed, "broke"))));
  ASSERT_TRUE(f.store->Save("shop/app", St(Phase::kFailed, "broke")).ok());
  EXPECT_EQ(f.api.calls().size(), 3u);
}

TEST(KubeStatusStore, AnObjectWithoutStatusHasNone) {
  Fixture f;
  f.cache = Obj("10", "{}");
  auto s = f.store->Load("shop/app");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->has_value());
}

// A resync pass that changes only the timestamps sends no PATCH (1000 resources resyncing would be
// 1000 PATCHes at the client's QPS, and a real edit's status would queue behind them), until the
// refresh period has passed; anything else that changed is written at once.
TEST(KubeStatusStore, ATimestampOnlyChangeIsNotSentUntilTheRefreshPeriod) {
  Fixture f;
  const ResourceStatus done = St(Phase::kSucceeded, "at target");
  const std::string written = Served(Stamped(done, "2026-12-01T10:00:00Z"));
  f.cache = Obj("10");
  f.api.AddWrite(Obj("11", written));
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T10:00:00Z")).ok());
  ASSERT_EQ(f.api.calls().size(), 1u);
  f.cache = Obj("11", written);  // the watch brought our write into the cache

  f.now += std::chrono::minutes(5);
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T10:05:00Z")).ok());
  EXPECT_EQ(f.api.calls().size(), 1u) << "a timestamp-only change was sent";
  EXPECT_EQ(f.store->unchanged(), 1);
  EXPECT_EQ(f.store->patches(), 1);
  auto loaded = f.store->Load("shop/app");
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->phase, Phase::kSucceeded);

  // A real change (a new message) is written at once.
  f.api.AddWrite(Obj("12", StatusToJson(St(Phase::kSucceeded, "at target again"))));
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(St(Phase::kSucceeded, "at target again"), "2026-12-01T10:06:00Z")).ok());
  EXPECT_EQ(f.api.calls().size(), 2u);
}

TEST(KubeStatusStore, TimestampsAreRefreshedAfterThePeriod) {
  Fixture f(std::chrono::minutes(60));
  const ResourceStatus done = St(Phase::kSucceeded, "at target");
  const std::string written = Served(Stamped(done, "2026-12-01T10:00:00Z"));
  f.cache = Obj("10");
  f.api.AddWrite(Obj("11", written));
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T10:00:00Z")).ok());
  f.cache = Obj("11", written);
  f.now += std::chrono::minutes(29);  // before the earliest refresh (half the period)
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T10:29:00Z")).ok());
  EXPECT_EQ(f.api.calls().size(), 1u);
  f.now += std::chrono::minutes(31);  // the full period: written, whatever the key's spread
  f.api.AddWrite(Obj("12", StatusToJson(Stamped(done, "2026-12-01T11:00:00Z"))));
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T11:00:00Z")).ok());
  ASSERT_EQ(f.api.calls().size(), 2u);
  EXPECT_EQ(value::parse(f.api.calls()[1].body).at("status").at("observedAt").as_string(), "2026-12-01T11:00:00Z");
}

TEST(KubeStatusStore, AStatusEditedByOthersOrALaggingCacheIsWrittenOver) {
  Fixture f;
  const ResourceStatus done = St(Phase::kSucceeded, "at target");
  const std::string written = Served(Stamped(done, "2026-12-01T10:00:00Z"));
  f.cache = Obj("10");
  f.api.AddWrite(Obj("11", written));
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T10:00:00Z")).ok());
  // The cache has not seen our write yet (it still holds no status): written.
  f.api.AddWrite(Obj("12", written));
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T10:01:00Z")).ok());
  EXPECT_EQ(f.api.calls().size(), 2u);
  // Someone patched the status by hand (phase cleared): the controller's status goes back.
  f.cache = Obj("13", R"({"phase":"Pending"})");
  f.api.AddWrite(Obj("14", written));
  ASSERT_TRUE(f.store->Save("shop/app", Stamped(done, "2026-12-01T10:02:00Z")).ok());
  EXPECT_EQ(f.api.calls().size(), 3u);
  // Refresh 0: every Save is sent.
  Fixture g(std::chrono::milliseconds(0));
  g.cache = Obj("10");
  g.api.AddWrite(Obj("11", written));
  ASSERT_TRUE(g.store->Save("shop/app", Stamped(done, "2026-12-01T10:00:00Z")).ok());
  g.cache = Obj("11", written);
  g.api.AddWrite(Obj("12", written));
  ASSERT_TRUE(g.store->Save("shop/app", Stamped(done, "2026-12-01T10:01:00Z")).ok());
  EXPECT_EQ(g.api.calls().size(), 2u);
}

TEST(SameButTimestamps, IgnoresOnlyObservedAtAndUpdatedAt) {
  EXPECT_TRUE(SameButTimestamps(R"({"phase":"Succeeded","observedAt":"a","updatedAt":"b","x":{"y":1}})",
                                R"({"x":{"y":1},"updatedAt":"c","phase":"Succeeded"})"));
  EXPECT_FALSE(SameButTimestamps(R"({"phase":"Succeeded","x":{"y":1}})", R"({"phase":"Succeeded","x":{"y":2}})"));
  EXPECT_FALSE(SameButTimestamps(R"({"conditions":[{"lastTransitionTime":"a"}]})",
                                 R"({"conditions":[{"lastTransitionTime":"b"}]})"));
  EXPECT_FALSE(SameButTimestamps("", "{}"));
}

TEST(StatusMergePatch, NullsWhatTheNewStatusLacksRecursively) {
  value p = value::parse(StatusMergePatch(R"({"a":1,"b":{"x":1,"y":2},"c":[1]})", R"({"b":{"x":3},"c":[]})", "7"));
  EXPECT_TRUE(p.at("status").at("a").is_null());
  EXPECT_EQ(p.at("status").at("b").at("x").as_integer(), 3);
  EXPECT_TRUE(p.at("status").at("b").at("y").is_null());
  EXPECT_EQ(p.at("status").at("c").size(), 0u);
  EXPECT_EQ(p.at("metadata").at("resourceVersion").as_string(), "7");
}

}  // namespace
}  // namespace su::kube
