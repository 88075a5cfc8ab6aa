// The informer against the emulator: list then watch, several namespaces, re-list after compaction
// (410), resume after dropped watches, and an API server restart with nothing missed.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>

#include "kube/informer.h"
#include "kube/object_meta.h"
#include "tests/support/kube/kube_emulator.h"

namespace su::kube {
namespace {

using su::testing::KubeEmulator;
using su::testing::SchemaUpgradeJson;

ResourcePath Su(const std::string& ns, const std::string& name = "") {
  return ResourcePath{kSchemaUpgrades, ns, name, ""};
}

// Records handler events; waits on a condition over them.
class Recorder {
 public:
  Informer::Handler Handler() {
    return [this](InformerEvent e, const std::string& key) {
      std::unique_lock<std::mutex> l(mu_);
      events_.emplace_back(e, key);
      cv_.notify_all();
      // Holding the informer's thread here keeps it from reading its watch: the test's stand-in for a
      // slow consumer or a partitioned client.
      if (key == gate_key_) cv_.wait(l, [&] { return !gate_closed_; });
    };
  }
  // Blocks the handler (and so the informer's thread) on the first event for key until Open().
  void CloseGateOn(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    gate_key_ = key;
    gate_closed_ = true;
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    gate_closed_ = false;
    gate_key_.clear();
    cv_.notify_all();
  }
  bool Saw(InformerEvent e, const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    return SawLocked(e, key);
  }
  bool WaitFor(InformerEvent e, const std::string& key, std::chrono::seconds t = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, t, [&] { return SawLocked(e, key); });
  }
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    events_.clear();
  }

 private:
  bool SawLocked(InformerEvent e, const std::string& key) {
    for (const auto& [t, k] : events_)
      if (t == e && k == key) return true;
    return false;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<InformerEvent, std::string>> events_;
  std::string gate_key_;
  bool gate_closed_ = false;
};

// Polls cond (a cheap in-memory check) until true or the bound: a condition, not a sleep.
bool Eventually(const std::function<bool()>& cond, std::chrono::seconds bound = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

class InformerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emu_ = new KubeEmulator({"--persist", "--bookmark-interval", "1"});
    emu_->Start();
    emu_->ApplyCrd();
    for (const char* ns : {"team-a", "team-b", "team-c"}) emu_->Kubectl({"create", "namespace", ns});
  }
  static void TearDownTestSuite() {
    delete emu_;
    emu_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(emu_, nullptr);
    api_ = emu_->Client();
    ASSERT_TRUE(api_);
  }
  InformerOptions Fast(std::vector<std::string> namespaces = {}) {
    InformerOptions o;
    o.namespaces = std::move(namespaces);
    o.backoff_initial = std::chrono::milliseconds(100);
    o.backoff_max = std::chrono::milliseconds(2000);
    return o;
  }
  // The server's resourceVersion of every SchemaUpgrade in ns ("" = all).
  std::map<std::string, std::string> ServerState(const std::string& ns = "") {
    std::map<std::string, std::string> out;
    auto l = api_->List(Su(ns));
    EXPECT_TRUE(l.ok()) << l.error().message;
    if (!l.ok()) return out;
    for (const auto& item : l->items) {
      auto m = ParseObjectMeta(item);
      out[m->Key()] = m->resource_version;
    }
    return out;
  }
  void Create(const std::string& ns, const std::string& name) {
    auto r = api_->Create(Su(ns), SchemaUpgradeJson(name, "v1.0.0", ns));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  void Bump(const std::string& ns, const std::string& name, const std::string& version) {
    auto r = api_->Patch(Su(ns, name), PatchType::kMerge, R"({"spec":{"targetVersion":")" + version + R"("}})");
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  void Remove(const std::string& ns, const std::string& name) {
    auto r = api_->Delete(Su(ns, name));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  static KubeEmulator* emu_;
  std::unique_ptr<KubeApi> api_;
};
KubeEmulator* InformerTest::emu_ = nullptr;

TEST_F(InformerTest, ListsThenWatchesAddUpdateDelete) {
  Create("team-a", "pre");
  Recorder rec;
  Informer inf(api_.get(), Fast(), rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(60))) << inf.last_error();
  EXPECT_TRUE(rec.Saw(InformerEvent::kAdd, "team-a/pre"));
  ASSERT_TRUE(inf.Get("team-a/pre").has_value());

  Create("team-b", "new");
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kAdd, "team-b/new"));
  Bump("team-a", "pre", "v2");
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kUpdate, "team-a/pre"));
  EXPECT_NE(inf.Get("team-a/pre")->find("\"v2\""), std::string::npos);
  Remove("team-a", "pre");
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kDelete, "team-a/pre"));
  EXPECT_FALSE(inf.Get("team-a/pre").has_value());
  EXPECT_TRUE(Eventually([&] { return inf.ResourceVersions() == ServerState(); }));
  EXPECT_EQ(inf.stats().lists, 1);
  Remove("team-b", "new");
}

TEST_F(InformerTest, WatchesOnlyTheNamedNamespaces) {
  Recorder rec;
  Informer inf(api_.get(), Fast({"team-a", "team-b"}), rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(60))) << inf.last_error();
  Create("team-c", "outside");
  Create("team-a", "in-a");
  Create("team-b", "in-b");
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kAdd, "team-a/in-a"));
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kAdd, "team-b/in-b"));
  // team-c's create happened before the others: had it been delivered, it would be here by now.
  EXPECT_FALSE(rec.Saw(InformerEvent::kAdd, "team-c/outside"));
  EXPECT_FALSE(inf.Get("team-c/outside").has_value());
  Remove("team-c", "outside");
  Remove("team-a", "in-a");
  Remove("team-b", "in-b");
}

TEST_F(InformerTest, RelistsAfterCompactionAndReportsWhatChanged) {
  Create("team-a", "keep");
  Create("team-a", "drop");
  Recorder rec;
  Informer inf(api_.get(), Fast(), rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(60))) << inf.last_error();
  // Hold the informer inside the event for "gate", then change things it cannot see: the watch is
  // closed and the history compacted, so resuming from its resourceVersion is 410 Gone.
  rec.CloseGateOn("team-a/gate");
  Create("team-a", "gate");
  ASSERT_TRUE(rec.WaitFor(InformerEvent::kAdd, "team-a/gate"));
  emu_->Hook("close-watches");
  Bump("team-a", "keep", "v3");
  Remove("team-a", "drop");
  Create("team-a", "born");
  emu_->Hook("compact");
  rec.Open();
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kUpdate, "team-a/keep"));
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kDelete, "team-a/drop"));
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kAdd, "team-a/born"));
  EXPECT_TRUE(Eventually([&] { return inf.ResourceVersions() == ServerState(); }));
  EXPECT_GE(inf.stats().gone, 1);
  EXPECT_GE(inf.stats().lists, 2);
  for (const char* n : {"keep", "born", "gate"}) Remove("team-a", n);
}

TEST_F(InformerTest, ResumesAfterDroppedWatchesWithoutRelisting) {
  Recorder rec;
  Informer inf(api_.get(), Fast({"team-b"}), rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(60))) << inf.last_error();
  int watches = inf.stats().watches;
  emu_->Hook("close-watches");
  EXPECT_TRUE(Eventually([&] { return inf.stats().watches > watches; }));
  Create("team-b", "after-drop");
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kAdd, "team-b/after-drop"));
  EXPECT_EQ(inf.stats().lists, 1);  // resumed from its resourceVersion: no re-list needed
  EXPECT_EQ(inf.stats().gone, 0);
  Remove("team-b", "after-drop");
}

TEST_F(InformerTest, ApiServerRestartMissesNothing) {
  Create("team-c", "stays");
  Create("team-c", "goes");
  Recorder rec;
  Informer inf(api_.get(), Fast(), rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(60))) << inf.last_error();
  int lists = inf.stats().lists;
  emu_->Restart();  // same dir and port, objects persisted, watch history lost
  // Changes right after the restart, while the informer is still reconnecting (or just after).
  Bump("team-c", "stays", "v4");
  Remove("team-c", "goes");
  Create("team-c", "arrives");
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kUpdate, "team-c/stays"));
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kDelete, "team-c/goes"));
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kAdd, "team-c/arrives"));
  EXPECT_TRUE(Eventually([&] { return inf.ResourceVersions() == ServerState(); }));
  EXPECT_GE(inf.stats().errors, 1);  // the refused connections while it was down, each backed off
  (void)lists;
  Remove("team-c", "stays");
  Remove("team-c", "arrives");
}

TEST_F(InformerTest, PeriodicResyncReplaysEveryKey) {
  Create("team-a", "r1");
  Recorder rec;
  InformerOptions o = Fast({"team-a"});
  o.resync_period = std::chrono::milliseconds(300);
  Informer inf(api_.get(), o, rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(60)));
  EXPECT_TRUE(rec.WaitFor(InformerEvent::kResync, "team-a/r1"));
  inf.Stop();
  Remove("team-a", "r1");
}

}  // namespace
}  // namespace su::kube
