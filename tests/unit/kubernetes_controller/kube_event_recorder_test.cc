// KubeEventRecorder: events.k8s.io/v1 Events regarding the object, aggregated into series, rate
// limited per object, never blocking the caller.
#include "controller/kubernetes/kube_event_recorder.h"

// cpprest's U() macro collides with gtest's template parameters.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>
#include <gtest/gtest.h>

#include "reconcilers/base/secrets.h"
#include "tests/support/fakes/fake_kube_api.h"

namespace su::kube {
namespace {

using web::json::value;
using namespace std::chrono_literals;

struct Fixture {
  testing::FakeKubeApi api;
  std::chrono::steady_clock::time_point mono = std::chrono::steady_clock::now();
  std::mutex mu;
  std::unique_ptr<KubeEventRecorder> rec;
  explicit Fixture(int burst = 25) {
    KubeEventRecorderOptions o;
    o.api = &api;
    o.lookup = [](const std::string& key) -> std::optional<ObjectRef> {
      if (key != "shop/app") return std::nullopt;
      ObjectRef r;
      r.ns = "shop";
      r.name = "app";
      r.uid = "u-1";
      r.resource_version = "42";
      return r;
    };
    o.reporting_instance = "pod-1";
    o.burst = burst;
    o.monotonic = [this] {
      std::lock_guard<std::mutex> l(mu);
      return mono;
    };
    rec = std::make_unique<KubeEventRecorder>(o);
  }
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> l(mu);
    mono += d;
  }
  void Idle() { ASSERT_TRUE(rec->WaitIdle(10s)); }
};

std::string Ok() { return R"({"kind":"Event"})"; }

TEST(KubeEventRecorder, CreatesAnEventsV1EventRegardingTheSchemaUpgrade) {
  Fixture f;
  f.api.AddWrite(Ok());
  f.rec->Record("shop/app", "Normal", "Migrating", "applying 2 migration(s)");
  f.Idle();
  auto calls = f.api.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].verb, "create");
  EXPECT_EQ(calls[0].url, "/apis/events.k8s.io/v1/namespaces/shop/events");
  value ev = value::parse(calls[0].body);
  EXPECT_EQ(ev.at("type").as_string(), "Normal");
  EXPECT_EQ(ev.at("reason").as_string(), "Migrating");
  EXPECT_EQ(ev.at("note").as_string(), "applying 2 migration(s)");
  EXPECT_EQ(ev.at("reportingInstance").as_string(), "pod-1");
  EXPECT_FALSE(ev.at("reportingController").as_string().empty());
  EXPECT_FALSE(ev.at("action").as_string().empty());
  EXPECT_EQ(ev.at("eventTime").as_string().size(), std::string("2026-12-01T18:00:00.000000Z").size());
  const value& r = ev.at("regarding");
  EXPECT_EQ(r.at("kind").as_string(), "SchemaUpgrade");
  EXPECT_EQ(r.at("apiVersion").as_string(), "olympus.io/v1alpha1");
  EXPECT_EQ(r.at("uid").as_string(), "u-1");
  EXPECT_EQ(r.at("resourceVersion").as_string(), "42");
  EXPECT_EQ(ev.at("metadata").at("name").as_string().rfind("app.", 0), 0u);
  EXPECT_EQ(f.rec->stats().created, 1);
}

TEST(KubeEventRecorder, ARepeatWithinTheWindowUpdatesTheSeriesInsteadOfCreating) {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.api.AddWrite(Ok());
  for (int i = 0; i < 3; ++i) f.rec->Record("shop/app", "Warning", "DatabaseUnavailable", "connection refused");
  f.Idle();
  auto calls = f.api.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].verb, "create");
  std::string name = value::parse(calls[0].body).at("metadata").at("name").as_string();
  EXPECT_EQ(calls[1].verb, "patch");
  EXPECT_EQ(calls[1].url, "/apis/events.k8s.io/v1/namespaces/shop/events/" + name);
  EXPECT_EQ(value::parse(calls[1].body).at("series").at("count").as_integer(), 2);
  EXPECT_EQ(value::parse(calls[2].body).at("series").at("count").as_integer(), 3);
  EXPECT_FALSE(value::parse(calls[2].body).at("series").at("lastObservedTime").as_string().empty());
  EXPECT_EQ(f.rec->stats().aggregated, 2);
}

TEST(KubeEventRecorder, AfterTheWindowOrWithAnotherMessageANewEventIsCreated) {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.api.AddWrite(Ok());
  f.rec->Record("shop/app", "Warning", "DatabaseUnavailable", "connection refused");
  f.rec->Record("shop/app", "Warning", "DatabaseUnavailable", "timeout");
  f.Idle();
  f.Advance(11min);
  f.rec->Record("shop/app", "Warning", "DatabaseUnavailable", "connection refused");
  f.Idle();
  auto calls = f.api.calls();
  ASSERT_EQ(calls.size(), 3u);
  for (const auto& c : calls) EXPECT_EQ(c.verb, "create");
}

TEST(KubeEventRecorder, RateLimitedPerObjectAndTheSeriesCountCatchesUpLater) {
  Fixture f(/*burst=*/2);
  for (int i = 0; i < 4; ++i) f.api.AddWrite(Ok());
  f.rec->Record("shop/app", "Normal", "A", "one");      // token 1: create
  f.rec->Record("shop/app", "Normal", "A", "one");      // token 2: series 2
  f.rec->Record("shop/app", "Normal", "A", "one");      // no token: count 3 kept
  f.rec->Record("shop/app", "Normal", "B", "another");  // no token: dropped
  f.Idle();
  EXPECT_EQ(f.api.Count("create"), 1);
  EXPECT_EQ(f.api.Count("patch"), 1);
  EXPECT_EQ(f.rec->stats().dropped, 1);
  f.Advance(6min);  // a token back; the stop flushes the pending count
  f.rec->Stop();
  auto calls = f.api.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(value::parse(calls[2].body).at("series").at("count").as_integer(), 3);
}

TEST(KubeEventRecorder, NoteIsTruncatedScrubbedAndTheGoneObjectDropped) {
  Fixture f;
  f.api.AddWrite(Ok());
  RegisterSecret("s3cr3t-pass");
  f.rec->Record("shop/app", "Warning", "X", "password s3cr3t-pass " + std::string(3000, 'x'));
  f.rec->Record("shop/gone", "Normal", "Y", "nobody");
  f.Idle();
  auto calls = f.api.calls();
  ASSERT_EQ(calls.size(), 1u);
  std::string note = value::parse(calls[0].body).at("note").as_string();
  EXPECT_LE(note.size(), 1024u);
  EXPECT_EQ(note.find("s3cr3t-pass"), std::string::npos);
  EXPECT_EQ(f.rec->stats().dropped, 1);
}

// An API that hangs: Record still returns at once (the caller is a reconcile worker).
class HangingApi : public testing::FakeKubeApi {
 public:
  kube::ApiResult<std::string> Create(const kube::ResourcePath&, const std::string&, const kube::WriteOptions&) override {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return released_; });
    return std::string("{}");
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

TEST(KubeEventRecorder, RecordNeverBlocksOnAHangingApi) {
  HangingApi api;
  KubeEventRecorderOptions o;
  o.api = &api;
  o.lookup = [](const std::string&) { return std::optional<ObjectRef>(ObjectRef{"v", "K", "shop", "app", "u", "1"}); };
  o.queue_limit = 5;
  KubeEventRecorder rec(o);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) rec.Record("shop/app", "Normal", "R", "m" + std::to_string(i));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_GE(rec.stats().dropped, 40);  // the queue is bounded
  api.Release();
  rec.Stop();
}

}  // namespace
}  // namespace su::kube
