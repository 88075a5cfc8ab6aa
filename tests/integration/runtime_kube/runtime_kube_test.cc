// The Kubernetes WorkloadRuntime against the API server emulator, started with --no-controllers
// (it still defaults workloads as the API server does): each test writes the Deployment / StatefulSet / Pod status through the /status subresource the
// way the workload's controller and the kubelet would, and checks what the runtime makes of it.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "kube/api.h"
#include "reconcilers/runtimes/kubernetes/kube_workload.h"
#include "tests/support/kube/kube_emulator.h"

namespace su {
namespace {

using su::testing::KubeEmulator;
using web::json::value;

const kube::GroupVersionResource kDeploy{"apps", "v1", "deployments", true};
const kube::GroupVersionResource kSts{"apps", "v1", "statefulsets", true};
const kube::GroupVersionResource kPod{"", "v1", "pods", true};

constexpr const char* kOld = "localhost/oryd/kratos:v1.1.0";
constexpr const char* kNew = "localhost/oryd/kratos:v1.2.0";

std::string WorkloadJson(const std::string& kind, const std::string& name, const std::string& extra_spec = "") {
  return R"({"apiVersion":"apps/v1","kind":")" + kind + R"(","metadata":{"name":")" + name +
         R"(","namespace":"default","labels":{"team":"ciam"},"annotations":{"note":"keep me"}},
    "spec":{"replicas":2,"selector":{"matchLabels":{"app":")" + name + R"("}},)" + extra_spec +
         R"("template":{"metadata":{"labels":{"app":")" + name + R"("}},"spec":{
      "initContainers":[{"name":"init","image":"busybox:1.36"}],
      "containers":[{"name":"sidecar","image":"envoyproxy/envoy:v1.30.0"},
                    {"name":"kratos","image":")" + kOld + R"(","env":[{"name":"LOG_LEVEL","value":"debug"}]}]}}}})";
}

class RuntimeKubeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // No controllers: each test writes the workload status itself, deterministically.
    emu_ = new KubeEmulator({"--no-controllers"});
    emu_->Start();
  }
  static void TearDownTestSuite() {
    delete emu_;
    emu_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(emu_, nullptr);
    api_ = emu_->Client();
    ASSERT_TRUE(api_);
    KubeWorkloadOptions o;
    o.api = api_.get();
    o.clock = &clock_;
    o.statefulset_progress_deadline = std::chrono::seconds(300);
    rt_ = NewKubeWorkloadRuntime(o);
  }

  WorkloadRef Ref(const std::string& kind, const std::string& name, const std::string& container = "kratos") {
    WorkloadRef w;
    w.kind = kind;
    w.name = name;
    w.container = container;
    w.ns = "default";
    return w;
  }
  kube::ResourcePath Path(const std::string& kind, const std::string& name, const std::string& sub = "") {
    return kube::ResourcePath{kind == "StatefulSet" ? kSts : kDeploy, "default", name, sub};
  }
  void Create(const std::string& kind, const std::string& name, const std::string& extra_spec = "") {
    auto r = api_->Create(Path(kind, "", ""), WorkloadJson(kind, name, extra_spec));
    ASSERT_TRUE(r.ok()) << r.error().Describe();
  }
  value Get(const std::string& kind, const std::string& name) {
    auto r = api_->Get(Path(kind, name));
    EXPECT_TRUE(r.ok()) << r.error().Describe();
    return r.ok() ? value::parse(*r) : value();
  }
  int64_t Generation(const std::string& kind, const std::string& name) {
    return Get(kind, name).at("metadata").at("generation").as_number().to_int64();
  }
  // Writes .status as the workload's controller would (merge patch on /status).
  void SetStatus(const std::string& kind, const std::string& name, const std::string& status_json) {
    auto r = api_->Patch(Path(kind, name, "status"), kube::PatchType::kMerge, R"({"status":)" + status_json + "}");
    ASSERT_TRUE(r.ok()) << r.error().Describe();
  }
  // A pod of the workload running `image`, with the kubelet's container status.
  void CreatePod(const std::string& app, const std::string& pod, const std::string& image,
                 const std::string& container_status) {
    std::string body = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + pod +
                       R"(","namespace":"default","labels":{"app":")" + app +
                       R"("}},"spec":{"containers":[{"name":"kratos","image":")" + image + R"("}]}})";
    auto r = api_->Create(kube::ResourcePath{kPod, "default", "", ""}, body);
    ASSERT_TRUE(r.ok()) << r.error().Describe();
    auto s = api_->Patch(kube::ResourcePath{kPod, "default", pod, "status"}, kube::PatchType::kMerge,
                         R"({"status":{"containerStatuses":[)" + container_status + "]}}");
    ASSERT_TRUE(s.ok()) << s.error().Describe();
  }

  // A pod of app in `phase` running `image`; with a finalizer when `hold` (deleting it then only
  // marks it, as a pod in its grace period or held by a finalizer).
  void CreatePodIn(const std::string& app, const std::string& pod, const std::string& image, const std::string& phase,
                   bool hold = false) {
    std::string body = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + pod +
                       R"(","namespace":"default",)" + (hold ? R"("finalizers":["e2e.olympus.io/hold"],)" : "") +
                       R"("labels":{"app":")" + app + R"("}},"spec":{"containers":[{"name":"kratos","image":")" +
                       image + R"("}]}})";
    auto r = api_->Create(kube::ResourcePath{kPod, "default", "", ""}, body);
    ASSERT_TRUE(r.ok()) << r.error().Describe();
    auto s = api_->Patch(kube::ResourcePath{kPod, "default", pod, "status"}, kube::PatchType::kMerge,
                         R"({"status":{"phase":")" + phase + R"("}})");
    ASSERT_TRUE(s.ok()) << s.error().Describe();
  }
  // RunningInstances as "image name" strings, sorted.
  std::vector<std::string> Instances(const WorkloadRef& w) {
    auto r = rt_->RunningInstances(w);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    if (r.ok()) {
      for (const auto& i : *r) out.push_back(i.image + " " + i.name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static KubeEmulator* emu_;
  std::unique_ptr<kube::KubeApi> api_;
  FakeClock clock_{std::chrono::system_clock::now()};
  std::unique_ptr<WorkloadRuntime> rt_;
};
KubeEmulator* RuntimeKubeTest::emu_ = nullptr;

TEST_F(RuntimeKubeTest, DeclaredImageIsTheNamedContainersAndTheFirstByDefault) {
  Create("Deployment", "declared");
  auto named = rt_->DeclaredImage(Ref("Deployment", "declared"));
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(*named, kOld);
  auto first = rt_->DeclaredImage(Ref("Deployment", "declared", ""));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, "envoyproxy/envoy:v1.30.0");
}

TEST_F(RuntimeKubeTest, SetDeclaredImageChangesThatImageAndNothingElse) {
  Create("Deployment", "bump");
  value before = Get("Deployment", "bump");
  ASSERT_TRUE(rt_->SetDeclaredImage(Ref("Deployment", "bump"), kOld, kNew).ok());
  value after = Get("Deployment", "bump");
  EXPECT_EQ(after.at("spec").at("template").at("spec").at("containers").at(1).at("image").as_string(), kNew);
  EXPECT_GT(after.at("metadata").at("generation").as_number().to_int64(),
            before.at("metadata").at("generation").as_number().to_int64());
  // Everything else is as it was: put the old image back in the copy and compare spec and labels.
  after["spec"]["template"]["spec"]["containers"][1]["image"] = value::string(kOld);
  EXPECT_EQ(after.at("spec").serialize(), before.at("spec").serialize());
  EXPECT_EQ(after.at("metadata").at("labels").serialize(), before.at("metadata").at("labels").serialize());
  EXPECT_EQ(after.at("metadata").at("annotations").serialize(), before.at("metadata").at("annotations").serialize());
  // Already at the target: success, no write.
  std::string rv = Get("Deployment", "bump").at("metadata").at("resourceVersion").as_string();
  ASSERT_TRUE(rt_->SetDeclaredImage(Ref("Deployment", "bump"), kOld, kNew).ok());
  EXPECT_EQ(Get("Deployment", "bump").at("metadata").at("resourceVersion").as_string(), rv);
}

TEST_F(RuntimeKubeTest, SetDeclaredImageRefusesAWorkloadChangedSinceItWasRead) {
  Create("StatefulSet", "cas");
  // Someone (kubectl set image, a GitOps sync) changed it after the upgrade read kOld.
  emu_->Kubectl({"set", "image", "statefulset/cas", "kratos=localhost/oryd/kratos:v1.1.5", "-n", "default"});
  Status s = rt_->SetDeclaredImage(Ref("StatefulSet", "cas"), kOld, kNew);
  EXPECT_EQ(s.code(), Code::kConflict) << s.ToString();
  EXPECT_NE(s.message().find("v1.1.5"), std::string::npos) << s.message();
  EXPECT_EQ(*rt_->DeclaredImage(Ref("StatefulSet", "cas")), "localhost/oryd/kratos:v1.1.5");
}

// Forwards to the emulator; runs `before_patch` once, just before the first PATCH goes out (a writer
// that slips in between the runtime's read and its write).
class RacingApi : public kube::KubeApi {
 public:
  RacingApi(kube::KubeApi* to, std::function<void()> before_patch) : to_(to), before_(std::move(before_patch)) {}
  kube::ApiResult<std::string> Get(const kube::ResourcePath& p) override { return to_->Get(p); }
  kube::ApiResult<kube::ListResult> List(const kube::ResourcePath& p, const kube::ListOptions& o) override {
    return to_->List(p, o);
  }
  kube::ApiResult<std::string> Create(const kube::ResourcePath& p, const std::string& b,
                                      const kube::WriteOptions& o) override {
    return to_->Create(p, b, o);
  }
  kube::ApiResult<std::string> Update(const kube::ResourcePath& p, const std::string& b,
                                      const kube::WriteOptions& o) override {
    return to_->Update(p, b, o);
  }
  kube::ApiResult<std::string> Patch(const kube::ResourcePath& p, kube::PatchType t, const std::string& b,
                                     const kube::WriteOptions& o) override {
    if (before_) std::exchange(before_, nullptr)();
    return to_->Patch(p, t, b, o);
  }
  kube::ApiResult<std::string> Delete(const kube::ResourcePath& p, const kube::DeleteOptions& o) override {
    return to_->Delete(p, o);
  }
  kube::ApiResult<bool> Watch(const kube::ResourcePath& p, const kube::WatchOptions& o, const EventHandler& h,
                              std::stop_token s) override {
    return to_->Watch(p, o, h, s);
  }

 private:
  kube::KubeApi* to_;
  std::function<void()> before_;
};

TEST_F(RuntimeKubeTest, AWriteBetweenReadAndPatchIsNotOverwritten) {
  Create("Deployment", "race");
  RacingApi racing(api_.get(), [&] {
    emu_->Kubectl({"set", "image", "deployment/race", "kratos=localhost/oryd/kratos:v1.1.5", "-n", "default"});
  });
  KubeWorkloadOptions o;
  o.api = &racing;
  o.clock = &clock_;
  auto rt = NewKubeWorkloadRuntime(o);
  Status s = rt->SetDeclaredImage(Ref("Deployment", "race"), kOld, kNew);
  EXPECT_EQ(s.code(), Code::kConflict) << s.ToString();
  EXPECT_NE(s.message().find("now declares localhost/oryd/kratos:v1.1.5"), std::string::npos) << s.message();
  EXPECT_EQ(*rt_->DeclaredImage(Ref("Deployment", "race")), "localhost/oryd/kratos:v1.1.5");
}

TEST_F(RuntimeKubeTest, PreflightNamesAMissingWorkloadOrContainerAndChangesNothing) {
  auto missing = rt_->PreflightBump(Ref("Deployment", "nope"), kNew, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("Deployment default/nope"), std::string::npos) << missing.status().message();

  Create("Deployment", "pre");
  std::string rv = Get("Deployment", "pre").at("metadata").at("resourceVersion").as_string();
  auto bad = rt_->PreflightBump(Ref("Deployment", "pre", "kratoss"), kNew, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("no container \"kratoss\""), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("sidecar, kratos"), std::string::npos) << bad.status().message();
  auto ok = rt_->PreflightBump(Ref("Deployment", "pre"), kNew, true);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->declared, kOld);
  EXPECT_EQ(ok->target, kNew);
  EXPECT_EQ(Get("Deployment", "pre").at("metadata").at("resourceVersion").as_string(), rv);
}

TEST_F(RuntimeKubeTest, ObserveFollowsADeploymentRolloutAsKubectlRolloutStatus) {
  Create("Deployment", "roll");
  WorkloadRef w = Ref("Deployment", "roll");
  int64_t g1 = Generation("Deployment", "roll");
  SetStatus("Deployment", "roll", R"({"observedGeneration":)" + std::to_string(g1) +
                                      R"(,"replicas":2,"updatedReplicas":2,"availableReplicas":2,"readyReplicas":2})");
  auto ws = rt_->Observe(w);
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  EXPECT_EQ(ws->rollout, "complete");
  EXPECT_TRUE(ws->running);
  EXPECT_EQ(ws->image, kOld);

  ASSERT_TRUE(rt_->SetDeclaredImage(w, kOld, kNew).ok());
  ASSERT_TRUE(rt_->Rollout(w, kNew).ok());
  ws = rt_->Observe(w);  // the controller has not seen the new generation yet
  EXPECT_EQ(ws->rollout, "progressing");
  EXPECT_FALSE(ws->running);
  EXPECT_NE(ws->detail.find("spec update to be observed"), std::string::npos) << ws->detail;

  int64_t g2 = Generation("Deployment", "roll");
  SetStatus("Deployment", "roll", R"({"observedGeneration":)" + std::to_string(g2) +
                                      R"(,"replicas":3,"updatedReplicas":1,"availableReplicas":2})");
  ws = rt_->Observe(w);
  EXPECT_EQ(ws->rollout, "progressing");
  EXPECT_NE(ws->detail.find("1 out of 2 new replicas have been updated"), std::string::npos) << ws->detail;
  SetStatus("Deployment", "roll", R"({"replicas":3,"updatedReplicas":2,"availableReplicas":2})");
  EXPECT_NE(rt_->Observe(w)->detail.find("1 old replicas are pending termination"), std::string::npos);
  SetStatus("Deployment", "roll", R"({"replicas":2,"updatedReplicas":2,"availableReplicas":1})");
  EXPECT_NE(rt_->Observe(w)->detail.find("1 of 2 updated replicas are available"), std::string::npos);
  SetStatus("Deployment", "roll", R"({"replicas":2,"updatedReplicas":2,"availableReplicas":2})");
  ws = rt_->Observe(w);
  EXPECT_EQ(ws->rollout, "complete");
  EXPECT_TRUE(ws->running);
  EXPECT_EQ(ws->image, kNew);
}

// Expand/contract's "no instance of the old version left": every pod the selector selects that has
// not terminated, whatever the rollout status says. A complete rollout no longer counts the old
// ReplicaSet's pod that is being deleted but still runs (its grace period, here a finalizer).
TEST_F(RuntimeKubeTest, RunningInstancesAreTheSelectorsLivePodsAlsoTerminatingOnes) {
  Create("Deployment", "contract");
  WorkloadRef w = Ref("Deployment", "contract");
  ASSERT_TRUE(rt_->SetDeclaredImage(w, kOld, kNew).ok());
  SetStatus("Deployment", "contract", R"({"observedGeneration":)" + std::to_string(Generation("Deployment", "contract")) +
                                          R"(,"replicas":2,"updatedReplicas":2,"availableReplicas":2,"readyReplicas":2})");
  CreatePodIn("contract", "contract-new-1", kNew, "Running");
  CreatePodIn("contract", "contract-new-2", kNew, "Pending");
  CreatePodIn("contract", "contract-old-1", kOld, "Running", /*hold=*/true);
  auto del = api_->Delete(kube::ResourcePath{kPod, "default", "contract-old-1", ""});
  ASSERT_TRUE(del.ok()) << del.error().Describe();
  // Terminated pods run nothing; another app's pod is not selected.
  CreatePodIn("contract", "contract-old-2", kOld, "Succeeded");
  CreatePodIn("contract", "contract-old-3", kOld, "Failed");
  CreatePodIn("other", "other-1", kOld, "Running");

  auto ws = rt_->Observe(w);
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  EXPECT_EQ(ws->rollout, "complete") << "the terminating pod is not counted by the rollout status";
  EXPECT_EQ(Instances(w), (std::vector<std::string>{std::string(kOld) + " pod contract-old-1",
                                                    std::string(kNew) + " pod contract-new-1",
                                                    std::string(kNew) + " pod contract-new-2"}));

  // Its finalizer removed, the old pod is gone: only the new image runs.
  auto fin = api_->Patch(kube::ResourcePath{kPod, "default", "contract-old-1", ""}, kube::PatchType::kMerge,
                         R"({"metadata":{"finalizers":null}})");
  ASSERT_TRUE(fin.ok()) << fin.error().Describe();
  EXPECT_EQ(Instances(w), (std::vector<std::string>{std::string(kNew) + " pod contract-new-1",
                                                    std::string(kNew) + " pod contract-new-2"}));
  // A workload that does not exist runs nothing (as Observe: exists = false).
  EXPECT_TRUE(Instances(Ref("Deployment", "no-such")).empty());
  // A container the workload does not have is an error naming it, as for the other calls.
  auto bad = rt_->RunningInstances(Ref("Deployment", "contract", "nope"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("nope"), std::string::npos) << bad.status().ToString();
}

TEST_F(RuntimeKubeTest, ProgressDeadlineExceededFailsVerifyNamingTheCrashLoopingPods) {
  Create("Deployment", "deadline");
  WorkloadRef w = Ref("Deployment", "deadline");
  ASSERT_TRUE(rt_->SetDeclaredImage(w, kOld, kNew).ok());
  int64_t g = Generation("Deployment", "deadline");
  CreatePod("deadline", "deadline-old-1", kOld, R"({"name":"kratos","ready":true,"restartCount":0,"state":{"running":{}}})");
  CreatePod("deadline", "deadline-new-1", kNew,
            R"({"name":"kratos","ready":false,"restartCount":4,"state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 40s restarting failed container"}}})");
  CreatePod("deadline", "deadline-new-2", kNew,
            R"({"name":"kratos","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image"}}})");
  SetStatus("Deployment", "deadline",
            R"({"observedGeneration":)" + std::to_string(g) +
                R"(,"replicas":3,"updatedReplicas":2,"availableReplicas":1,"conditions":[{"type":"Progressing","status":"True","reason":"ReplicaSetUpdated","message":"ReplicaSet \"deadline-new\" is progressing."}]})");
  // Progressing: verify waits (kGated) and says which pods are stuck.
  Status waiting = VerifyRollout(rt_.get(), w, kNew, std::chrono::milliseconds(0), &clock_);
  EXPECT_EQ(waiting.code(), Code::kGated) << waiting.ToString();
  EXPECT_NE(waiting.message().find("deadline-new-1 (container kratos): CrashLoopBackOff"), std::string::npos)
      << waiting.message();
  EXPECT_EQ(waiting.message().find("deadline-old-1"), std::string::npos) << "an old template's pod is not the rollout's";

  SetStatus("Deployment", "deadline",
            R"({"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"ReplicaSet \"deadline-new\" has timed out progressing."}]})");
  Status failed = VerifyRollout(rt_.get(), w, kNew, std::chrono::milliseconds(0), &clock_);
  EXPECT_EQ(failed.code(), Code::kFailed) << failed.ToString();
  for (const char* want : {"exceeded its progress deadline", "deadline-new-1", "CrashLoopBackOff", "deadline-new-2",
                           "ImagePullBackOff", "--- pod deadline-new-1 (container kratos):", "What to do"}) {
    EXPECT_NE(failed.message().find(want), std::string::npos) << want << " in: " << failed.message();
  }
}

TEST_F(RuntimeKubeTest, StatefulSetRolloutFollowsRevisionsAndHonoursAPartition) {
  Create("StatefulSet", "db");
  WorkloadRef w = Ref("StatefulSet", "db");
  ASSERT_TRUE(rt_->SetDeclaredImage(w, kOld, kNew).ok());
  int64_t g = Generation("StatefulSet", "db");
  SetStatus("StatefulSet", "db", R"({"observedGeneration":)" + std::to_string(g - 1) + "}");
  EXPECT_NE(rt_->Observe(w)->detail.find("spec update to be observed"), std::string::npos);
  SetStatus("StatefulSet", "db", R"({"observedGeneration":)" + std::to_string(g) +
                                     R"(,"replicas":2,"readyReplicas":1,"updatedReplicas":1,"currentRevision":"db-1","updateRevision":"db-2"})");
  EXPECT_NE(rt_->Observe(w)->detail.find("Waiting for 1 pods to be ready"), std::string::npos);
  SetStatus("StatefulSet", "db", R"({"readyReplicas":2})");
  auto ws = rt_->Observe(w);
  EXPECT_EQ(ws->rollout, "progressing");
  // The API server defaults rollingUpdate.partition to 0, so kubectl's partitioned rule decides.
  EXPECT_NE(ws->detail.find("1 out of 2 new pods have been updated"), std::string::npos) << ws->detail;
  SetStatus("StatefulSet", "db", R"({"updatedReplicas":2,"currentReplicas":2,"currentRevision":"db-2"})");
  EXPECT_EQ(rt_->Observe(w)->rollout, "complete");

  // A canary partition of the user's: 1 of 2 pods updated is the whole rollout.
  Create("StatefulSet", "canary", R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1}},)");
  WorkloadRef c = Ref("StatefulSet", "canary");
  ASSERT_TRUE(rt_->SetDeclaredImage(c, kOld, kNew).ok());
  SetStatus("StatefulSet", "canary", R"({"observedGeneration":)" + std::to_string(Generation("StatefulSet", "canary")) +
                                         R"(,"replicas":2,"readyReplicas":2,"updatedReplicas":0,"currentRevision":"c-1","updateRevision":"c-2"})");
  EXPECT_NE(rt_->Observe(c)->detail.find("0 out of 1 new pods have been updated"), std::string::npos);
  SetStatus("StatefulSet", "canary", R"({"updatedReplicas":1})");
  EXPECT_EQ(rt_->Observe(c)->rollout, "complete");
}

TEST_F(RuntimeKubeTest, AStatefulSetPodStuckPastTheDeadlineFailsTheRollout) {
  Create("StatefulSet", "stuck");
  WorkloadRef w = Ref("StatefulSet", "stuck");
  ASSERT_TRUE(rt_->SetDeclaredImage(w, kOld, kNew).ok());
  SetStatus("StatefulSet", "stuck", R"({"observedGeneration":)" + std::to_string(Generation("StatefulSet", "stuck")) +
                                        R"(,"replicas":2,"readyReplicas":1,"updatedReplicas":1,"currentRevision":"s-1","updateRevision":"s-2"})");
  CreatePod("stuck", "stuck-1", kNew,
            R"({"name":"kratos","ready":false,"restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off"}}})");
  auto ws = rt_->Observe(w);
  EXPECT_EQ(ws->rollout, "progressing") << ws->detail;  // created just now: within the deadline
  // The fake clock started with the test; the pod was created (by the emulator's clock) a moment later.
  clock_.Advance(std::chrono::seconds(300 + 120));
  ws = rt_->Observe(w);
  EXPECT_EQ(ws->rollout, "failed") << ws->detail;
  EXPECT_NE(ws->detail.find("pod stuck-1 has waited"), std::string::npos) << ws->detail;
}

TEST_F(RuntimeKubeTest, HoldAndReleaseADeploymentRollout) {
  Create("Deployment", "gitops");
  WorkloadRef w = Ref("Deployment", "gitops");
  ASSERT_TRUE(rt_->CanHoldRollout(w));
  auto setting = rt_->RolloutSetting(w);
  ASSERT_TRUE(setting.ok()) << setting.status().ToString();
  EXPECT_EQ(*setting, "paused=false");
  ASSERT_TRUE(rt_->HoldRollout(w).ok());
  ASSERT_TRUE(rt_->HoldRollout(w).ok());  // idempotent
  EXPECT_TRUE(Get("Deployment", "gitops").at("spec").at("paused").as_bool());
  EXPECT_EQ(*rt_->RolloutSetting(w), "paused=true");
  ASSERT_TRUE(rt_->ReleaseRollout(w, *setting).ok());
  value spec = Get("Deployment", "gitops").at("spec");
  EXPECT_FALSE(spec.has_field("paused") && spec.at("paused").as_bool());
  ASSERT_TRUE(rt_->ReleaseRollout(w, *setting).ok());  // idempotent

  // A Deployment the user had paused stays paused.
  ASSERT_TRUE(api_->Patch(Path("Deployment", "gitops"), kube::PatchType::kMerge, R"({"spec":{"paused":true}})").ok());
  auto user = rt_->RolloutSetting(w);
  ASSERT_TRUE(rt_->HoldRollout(w).ok());
  ASSERT_TRUE(rt_->ReleaseRollout(w, *user).ok());
  EXPECT_TRUE(Get("Deployment", "gitops").at("spec").at("paused").as_bool());
}

TEST_F(RuntimeKubeTest, HoldAndReleaseAStatefulSetRolloutRestoringTheUsersPartition) {
  Create("StatefulSet", "held", R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1}},)");
  WorkloadRef w = Ref("StatefulSet", "held");
  auto setting = rt_->RolloutSetting(w);
  ASSERT_TRUE(setting.ok()) << setting.status().ToString();
  EXPECT_EQ(*setting, "partition=1");
  ASSERT_TRUE(rt_->HoldRollout(w).ok());
  auto partition = [&] {
    return Get("StatefulSet", "held").at("spec").at("updateStrategy").at("rollingUpdate").at("partition").as_integer();
  };
  EXPECT_EQ(partition(), 2);  // = spec.replicas: no pod is updated
  ASSERT_TRUE(rt_->ReleaseRollout(w, *setting).ok());
  EXPECT_EQ(partition(), 1);

  Create("StatefulSet", "nopart");
  WorkloadRef n = Ref("StatefulSet", "nopart");
  auto zero = rt_->RolloutSetting(n);  // defaulted by the API server
  EXPECT_EQ(*zero, "partition=0");
  ASSERT_TRUE(rt_->HoldRollout(n).ok());
  EXPECT_EQ(Get("StatefulSet", "nopart").at("spec").at("updateStrategy").at("rollingUpdate").at("partition").as_integer(), 2);
  ASSERT_TRUE(rt_->ReleaseRollout(n, *zero).ok());
  EXPECT_EQ(Get("StatefulSet", "nopart").at("spec").at("updateStrategy").at("rollingUpdate").at("partition").as_integer(), 0);
  // Without a partition (a setting recorded before the API server defaulted one): removed again.
  ASSERT_TRUE(rt_->HoldRollout(n).ok());
  ASSERT_TRUE(rt_->ReleaseRollout(n, "partition=").ok());
  value us = Get("StatefulSet", "nopart").at("spec").at("updateStrategy");
  EXPECT_TRUE(!us.has_field("rollingUpdate") || !us.at("rollingUpdate").has_field("partition") ||
              us.at("rollingUpdate").at("partition").as_integer() == 0)
      << us.serialize();
}

}  // namespace
}  // namespace su
