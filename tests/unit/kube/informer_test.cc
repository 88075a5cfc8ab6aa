// Informer logic against a scripted FakeKubeApi: what it lists and watches from, and which events a
// 410, a dropped connection or a failed list produce.
#include <gtest/gtest.h>

#include <mutex>

#include "kube/informer.h"
#include "tests/support/fakes/fake_kube_api.h"

namespace su::kube {
namespace {

using su::testing::FakeKubeApi;

std::string Obj(const std::string& ns, const std::string& name, const std::string& rv) {
  return R"({"metadata":{"namespace":")" + ns + R"(","name":")" + name + R"(","resourceVersion":")" + rv + R"("}})";
}

class Events {
 public:
  Informer::Handler Handler() {
    return [this](InformerEvent e, const std::string& k) {
      std::lock_guard<std::mutex> l(mu_);
      seen_.push_back(std::string(InformerEventName(e)) + " " + k);
    };
  }
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> seen_;
};

bool Eventually(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return cond();
}

InformerOptions Fast() {
  InformerOptions o;
  o.backoff_initial = std::chrono::milliseconds(1);
  o.backoff_max = std::chrono::milliseconds(4);
  return o;
}

TEST(InformerUnitTest, GoneRelistsAndReportsTheDifference) {
  FakeKubeApi api;
  api.AddList(ListResult{"10", {Obj("n", "a", "1"), Obj("n", "b", "2")}});
  api.AddWatch({{{"MODIFIED", Obj("n", "a", "11")}}, ApiErrorFromStatusJson(
                    R"({"kind":"Status","code":410,"reason":"Expired","message":"too old"})", "watch", "/x")});
  api.AddList(ListResult{"12", {Obj("n", "a", "11"), Obj("n", "c", "12")}});
  Events ev;
  Informer inf(&api, Fast(), ev.Handler());
  inf.Start();
  ASSERT_TRUE(Eventually([&] { return api.Count("watch") == 2; }));
  inf.Stop();
  EXPECT_EQ(ev.seen(), (std::vector<std::string>{"add n/a", "add n/b", "update n/a", "add n/c", "delete n/b"}));
  auto calls = api.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[1].verb, "watch");
  EXPECT_EQ(calls[1].resource_version, "10");
  EXPECT_EQ(calls[3].resource_version, "12");
  EXPECT_EQ(inf.stats().gone, 1);
  EXPECT_EQ(inf.stats().errors, 0);
  EXPECT_EQ(inf.Keys(), (std::vector<std::string>{"n/a", "n/c"}));
}

TEST(InformerUnitTest, DroppedConnectionResumesFromTheLastBookmark) {
  FakeKubeApi api;
  api.AddList(ListResult{"5", {}});
  api.AddWatch({{{"BOOKMARK", R"({"metadata":{"resourceVersion":"7"}})"}},
                TransportError("watch", "/x", "connection reset")});
  api.AddWatch({{{"ADDED", Obj("n", "z", "8")}}, true});  // then the server ends the stream
  Events ev;
  Informer inf(&api, Fast(), ev.Handler());
  inf.Start();
  ASSERT_TRUE(Eventually([&] { return api.Count("watch") == 3; }));
  inf.Stop();
  auto calls = api.calls();
  EXPECT_EQ(api.Count("list"), 1);  // no re-list for a dropped connection
  EXPECT_EQ(calls[2].resource_version, "7");
  EXPECT_EQ(calls[3].resource_version, "8");  // a clean end: watch again from the last event
  EXPECT_EQ(inf.stats().errors, 1);
  EXPECT_EQ(ev.seen(), (std::vector<std::string>{"add n/z"}));
}

// A listed or watched object is cached without managedFields and kubectl's last-applied
// annotation (most of an object's bytes); everything else, other annotations included, is kept.
TEST(InformerUnitTest, CachesObjectsWithoutManagedFieldsOrLastAppliedConfiguration) {
  auto object = [](const std::string& rv, const std::string& target) {
    return R"({"metadata":{"namespace":"n","name":"a","resourceVersion":")" + rv +
           R"(","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"big\":1}","team":"iam"},)"
           R"("managedFields":[{"manager":"kubectl","operation":"Apply","fieldsV1":{"f:spec":{}}}]},)"
           R"("spec":{"targetVersion":")" + target + R"("}})";
  };
  FakeKubeApi api;
  api.AddList(ListResult{"1", {object("1", "v1")}});
  api.AddWatch({{{"MODIFIED", object("2", "v2")}}, true});
  Events ev;
  Informer inf(&api, Fast(), ev.Handler());
  inf.Start();
  ASSERT_TRUE(Eventually([&] { return inf.ResourceVersions()["n/a"] == "2"; }));
  inf.Stop();
  auto cached = inf.Get("n/a");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->find("managedFields"), std::string::npos) << *cached;
  EXPECT_EQ(cached->find("last-applied-configuration"), std::string::npos) << *cached;
  EXPECT_NE(cached->find(R"("team":"iam")"), std::string::npos) << *cached;
  EXPECT_NE(cached->find(R"("targetVersion":"v2")"), std::string::npos) << *cached;

  // Opted out: the object as the server sent it.
  FakeKubeApi raw_api;
  raw_api.AddList(ListResult{"1", {object("1", "v1")}});
  InformerOptions keep = Fast();
  keep.trim_metadata = false;
  Informer raw(&raw_api, keep, ev.Handler());
  raw.Start();
  ASSERT_TRUE(raw.WaitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(raw.Get("n/a"), object("1", "v1"));
  raw.Stop();
}

TEST(InformerUnitTest, FailedListBacksOffThenSyncs) {
  FakeKubeApi api;
  api.AddList(ApiErrorFromResponse(503, "", "list", "/x"));
  api.AddList(ApiErrorFromResponse(403, "", "list", "/x"));
  api.AddList(ListResult{"3", {Obj("n", "a", "3")}});
  Events ev;
  Informer inf(&api, Fast(), ev.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(inf.stats().errors, 2);
  EXPECT_NE(inf.last_error().find("list /x"), std::string::npos);
  EXPECT_TRUE(inf.Get("n/a").has_value());
  inf.Stop();
}

TEST(InformerUnitTest, HttpErrorOnWatchRelists) {
  FakeKubeApi api;
  api.AddList(ListResult{"1", {Obj("n", "a", "1")}});
  api.AddWatch({{}, ApiErrorFromResponse(404, "", "watch", "/x")});  // e.g. the CRD was deleted
  api.AddList(ListResult{"2", {}});
  Events ev;
  Informer inf(&api, Fast(), ev.Handler());
  inf.Start();
  ASSERT_TRUE(Eventually([&] { return api.Count("watch") == 2; }));
  inf.Stop();
  EXPECT_EQ(api.Count("list"), 2);
  EXPECT_EQ(ev.seen(), (std::vector<std::string>{"add n/a", "delete n/a"}));
}

TEST(InformerUnitTest, NamespacesAreListedSeparatelyAndScoped) {
  FakeKubeApi api;
  InformerOptions o = Fast();
  o.namespaces = {"only"};
  api.AddList(ListResult{"1", {Obj("only", "a", "1")}});
  Events ev;
  Informer inf(&api, o, ev.Handler());
  inf.Start();
  ASSERT_TRUE(Eventually([&] { return api.Count("watch") == 1; }));
  inf.Stop();
  EXPECT_EQ(api.calls()[0].url, "/apis/olympus.io/v1alpha1/namespaces/only/schemaupgrades");
}

}  // namespace
}  // namespace su::kube
