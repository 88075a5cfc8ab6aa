// RunController over FakeResourceSource, FakeEventRecorder, FakeSecretResolver and a memory status
// store: an invalid object goes Stalled once (InvalidSpec, with a Warning event), a refused one
// (admit) too, a valid one gets a status at once and its pass runs with the resolver's DSN, a
// removed key reaches on_removed, and SIGTERM-like stop ends the loop with 0.
#include "controller/cli/controller_run.h"

#include <gtest/gtest.h>

#include <thread>

#include "reconcilers/base/secrets.h"
#include "reconcilers/schemaupgrade/status_seed.h"
#include "tests/support/fakes/fake_event_recorder.h"
#include "tests/support/fakes/fake_resource_source.h"
#include "tests/support/fakes/fake_secret_resolver.h"

namespace su {
namespace {

using namespace std::chrono_literals;

SchemaUpgrade Valid(const std::string& name, bool with_workload = false) {
  SchemaUpgrade su;
  su.name = name;
  su.namespace_ = "shop";
  su.generation = 4;
  su.service = name;
  su.target_version = "v2";
  su.source_file = "SchemaUpgrade shop/" + name;
  su.migrations.engine = "sql";
  su.migrations.path = "/nowhere";
  su.spec_hash = "h-" + name;
  if (with_workload) {
    su.workload.kind = "Deployment";
    su.workload.name = name;
  }
  return su;
}

struct Loop {
  testing::FakeResourceSource source;
  testing::FakeEventRecorder events;
  testing::FakeSecretResolver secrets;
  CliEnv env;
  Metrics metrics;
  std::unique_ptr<ShutdownSignal> stop;
  std::vector<std::string> removed;
  std::mutex mu;
  std::thread thread;
  int code = -1;

  Loop() {
    env.store = NewMemoryStatusStore();
    env.deps.store = env.store.get();
    env.deps.secrets = &secrets;
    env.deps.connect = [](const std::string&, const std::string&) -> Result<std::unique_ptr<Database>> {
      return Status::Error(Code::kUnavailable, "connection refused");
    };
    env.deps.make_engine = [](const SchemaUpgrade&, const std::string&, const std::string&)
        -> Result<std::unique_ptr<Engine>> { return Status::Failed("no engine in this test"); };
    auto s = ShutdownSignal::Install();
    EXPECT_TRUE(s.ok());
    stop = std::move(s).value();
  }
  void Start(std::function<Status(const SchemaUpgrade&)> admit = {}) {
    thread = std::thread([this, admit] {
      ControllerParts p;
      p.env = &env;
      p.source = &source;
      p.events = &events;
      p.metrics = &metrics;
      p.stop = stop.get();
      p.workers = 2;
      p.admit = admit;
      p.on_removed = [this](const std::string& k) {
        std::lock_guard<std::mutex> l(mu);
        removed.push_back(k);
      };
      code = RunController(p);
    });
  }
  ~Loop() {
    stop->RequestStop();
    if (thread.joinable()) thread.join();
  }
  // Waits (bounded) until key's stored status satisfies pred.
  std::optional<ResourceStatus> WaitStatus(const std::string& key, std::function<bool(const ResourceStatus&)> pred) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto s = env.store->Load(key);
      if (s.ok() && s->has_value() && pred(**s)) return **s;
      std::this_thread::sleep_for(5ms);  // polling interval of the condition
    }
    return std::nullopt;
  }
};

TEST(ControllerRun, AnInvalidObjectIsStalledOnceWithAWarningAndNothingRuns) {
  Loop loop;
  loop.source.PutInvalid("shop/bad", 2, Status::Invalid("SchemaUpgrade shop/bad: spec.policy.maintenanceWindow.timeZone: unknown"));
  loop.Start();
  auto s = loop.WaitStatus("shop/bad", [](const ResourceStatus& s) { return s.phase == Phase::kFailed; });
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->observed_generation, 2);
  EXPECT_EQ(FindCondition(*s, "Stalled")->reason, kReasonInvalidSpec);
  loop.source.Resync();  // a resync does not write or warn again
  loop.source.Put(Valid("other"));
  ASSERT_TRUE(loop.WaitStatus("shop/other", [](const ResourceStatus&) { return true; }).has_value());
  EXPECT_EQ(loop.events.Count(kReasonInvalidSpec), 1);
}

TEST(ControllerRun, AValidObjectGetsStatusAndItsPassUsesTheSecretResolver) {
  Loop loop;
  loop.secrets.Set("shop/app", "postgres://u:Sup3rSecretPw@127.0.0.1:1/db");
  loop.source.Put(Valid("app"));
  loop.Start();
  auto s = loop.WaitStatus("shop/app", [](const ResourceStatus& s) {
    const Condition* r = FindCondition(s, "Ready");
    return r && r->reason == "DatabaseUnavailable";
  });
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->observed_generation, 4);
  for (const auto& c : s->conditions) EXPECT_EQ(c.observed_generation, 4) << c.type;
  EXPECT_GE(loop.secrets.calls(), 1);
  for (const auto& e : loop.events.events()) EXPECT_EQ(e.message.find("Sup3rSecretPw"), std::string::npos);
  EXPECT_EQ(StatusToJson(*s).find("Sup3rSecretPw"), std::string::npos);
}

TEST(ControllerRun, AdmitRefusalsAreInvalidSpecAndRemovalsReachTheHook) {
  Loop loop;
  loop.source.Put(Valid("web", /*with_workload=*/true));
  loop.Start([](const SchemaUpgrade& su) {
    return su.workload.kind.empty() ? Status::Ok() : Status::Invalid(su.source_file + ": spec.workload: not yet");
  });
  auto s = loop.WaitStatus("shop/web", [](const ResourceStatus& s) { return s.phase == Phase::kFailed; });
  ASSERT_TRUE(s.has_value());
  EXPECT_NE(s->message.find("spec.workload"), std::string::npos) << s->message;
  EXPECT_EQ(loop.secrets.calls(), 0);  // nothing ran
  loop.source.Remove("shop/web");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::lock_guard<std::mutex> l(loop.mu);
    if (!loop.removed.empty()) break;
  }
  std::lock_guard<std::mutex> l(loop.mu);
  EXPECT_EQ(loop.removed, std::vector<std::string>{"shop/web"});
}

TEST(ControllerRun, StopEndsTheLoopWithZero) {
  Loop loop;
  loop.Start();
  loop.stop->RequestStop();
  loop.thread.join();
  EXPECT_EQ(loop.code, 0);
}

}  // namespace
}  // namespace su
