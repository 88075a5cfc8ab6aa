// KubeStatusStore: status subresource merge patches with a resourceVersion precondition, 409 retry,
// and Load from the cache overlaid with our own last write.
#include "controller/kubernetes/kube_status_store.h"

// cpprest's U() macro collides with gtest's template parameters.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>
#include <gtest/gtest.h>

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
  std::unique_ptr<KubeStatusStore> store;
  Fixture() {
    KubeStatusStoreOptions o;
    o.api = &api;
    o.cached = [this](const std::string&) { return cache; };
    o.keys = [] { return std::vector<std::string>{"shop/app"}; };
    store = std::make_unique<KubeStatusStore>(o);
  }
};

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

TEST(KubeStatusStore, AnObjectWithoutStatusHasNone) {
  Fixture f;
  f.cache = Obj("10", "{}");
  auto s = f.store->Load("shop/app");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->has_value());
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
