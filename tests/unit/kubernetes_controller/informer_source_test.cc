// KubeResourceSource: informer events -> changed/resynced/removed; our own status writes (which
// bump resourceVersion) are not changes; Get decodes the cached object.
#include "controller/kubernetes/informer_source.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "tests/support/fakes/fake_kube_api.h"

namespace su::kube {
namespace {

using namespace std::chrono_literals;

std::string Obj(const std::string& rv, int generation, const std::string& status_phase = "",
                const std::string& annotations = "{}") {
  return R"({"apiVersion":"olympus.io/v1alpha1","kind":"SchemaUpgrade","metadata":{"name":"app","namespace":"shop","uid":"u-1","resourceVersion":")" +
         rv + R"(","generation":)" + std::to_string(generation) + R"(,"annotations":)" + annotations +
         R"(},"spec":{"targetVersion":"v)" + std::to_string(generation) +
         R"(","database":{"dsnFrom":{"env":"APP_DSN"}},"migrations":{"engine":"sql","path":"/m"}})" +
         (status_phase.empty() ? "" : R"(,"status":{"phase":")" + status_phase + R"("})") + "}";
}

struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;
  ResourceHandler Handler() {
    auto add = [this](const std::string& what) {
      std::lock_guard<std::mutex> l(mu);
      seen.push_back(what);
      cv.notify_all();
    };
    return {[add](const std::string& k) { add("changed " + k); }, [add](const std::string& k) { add("resynced " + k); },
            [add](const std::string& k) { add("removed " + k); }};
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, 10s, [&] { return seen.size() >= n; });
  }
};

TEST(KubeResourceSource, StatusWritesAreNotChangesButGenerationsAndAnnotationsAre) {
  testing::FakeKubeApi api;
  api.AddList(ListResult{"10", {Obj("10", 1)}});
  testing::FakeKubeApi::WatchScript w;
  w.events = {{"MODIFIED", Obj("11", 1, "Migrating")},                                      // our status write
              {"MODIFIED", Obj("12", 2, "Migrating")},                                      // spec edit
              {"MODIFIED", Obj("13", 2, "Migrating", R"({"olympus.io/retry":"1"})")},        // retry annotation
              {"MODIFIED", Obj("14", 2, "Succeeded", R"({"olympus.io/retry":"1"})")},        // status again
              {"DELETED", Obj("15", 2, "Succeeded", R"({"olympus.io/retry":"1"})")}};
  api.AddWatch(w);
  KubeResourceSource src({&api, {"shop"}, 0ms, "/", "https://k"});
  Recorder rec;
  ASSERT_TRUE(src.Start(rec.Handler()).ok());
  ASSERT_TRUE(rec.WaitFor(4));
  src.Stop();
  std::vector<std::string> want = {"changed shop/app", "changed shop/app", "changed shop/app", "removed shop/app"};
  EXPECT_EQ(rec.seen, want);
  EXPECT_TRUE(src.HasSynced());
  EXPECT_EQ(src.Describe(), "kubernetes https://k namespaces shop");
}

TEST(KubeResourceSource, GetDecodesTheCachedObjectAndRefPointsAtIt) {
  testing::FakeKubeApi api;
  api.AddList(ListResult{"10", {Obj("10", 4)}});
  KubeResourceSource src({&api, {}, 0ms, "/", "https://k"});
  Recorder rec;
  ASSERT_TRUE(src.Start(rec.Handler()).ok());
  ASSERT_TRUE(rec.WaitFor(1));
  auto got = src.Get("shop/app");
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->resource.ok()) << got->resource.status().ToString();
  EXPECT_EQ(got->generation, 4);
  EXPECT_EQ(got->resource->target_version, "v4");
  auto ref = src.Ref("shop/app");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->uid, "u-1");
  EXPECT_EQ(ref->resource_version, "10");
  EXPECT_FALSE(src.Get("shop/other").has_value());
  src.Stop();
}

}  // namespace
}  // namespace su::kube
