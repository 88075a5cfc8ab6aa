// KubeWorkloadRuntime: a Deployment or StatefulSet as a WorkloadRuntime (see kube_workload.h).
#include <algorithm>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/runtimes/kubernetes/kube_workload.h"
#include "reconcilers/runtimes/kubernetes/pods.h"
#include "reconcilers/runtimes/kubernetes/workload_json.h"

namespace su {

using namespace kube_runtime;

namespace {

const kube::GroupVersionResource kDeployments{"apps", "v1", "deployments", true};
const kube::GroupVersionResource kStatefulSets{"apps", "v1", "statefulsets", true};

kube::ResourcePath WorkloadPath(const WorkloadRef& w) {
  return kube::ResourcePath{w.kind == "StatefulSet" ? kStatefulSets : kDeployments, w.ns, w.name, ""};
}

std::string Describe(const WorkloadRef& w) { return w.kind + " " + w.ns + "/" + w.name; }

std::string JsonString(const std::string& s) { return value::string(s).serialize(); }

class KubeWorkloadRuntime : public WorkloadRuntime {
 public:
  explicit KubeWorkloadRuntime(KubeWorkloadOptions o)
      : api_(o.api), clock_(o.clock ? o.clock : RealClock()), opt_(std::move(o)) {}

  Result<std::string> DeclaredImage(const WorkloadRef& w) override {
    SU_ASSIGN_OR_RETURN(Workload got, Read(w));
    return got.container.image;
  }

  Status SetDeclaredImage(const WorkloadRef& w, const std::string& from, const std::string& to) override {
    SU_ASSIGN_OR_RETURN(Workload got, Read(w));
    if (got.container.image == to) return Status::Ok();
    if (!from.empty() && got.container.image != from) return Changed(w, got.container.image, from, to);
    // Only the one field, and only if the container at that index is still ours and still declares
    // what we read: the patch is a compare-and-swap on exactly what it changes.
    const std::string at = "/spec/template/spec/containers/" + std::to_string(got.container.index);
    std::string patch = "[{\"op\":\"test\",\"path\":\"" + at + "/name\",\"value\":" + JsonString(got.container.name) +
                        "},{\"op\":\"test\",\"path\":\"" + at + "/image\",\"value\":" +
                        JsonString(got.container.image) + "},{\"op\":\"replace\",\"path\":\"" + at +
                        "/image\",\"value\":" + JsonString(to) + "}]";
    auto r = api_->Patch(WorkloadPath(w), kube::PatchType::kJson, patch);
    if (!r.ok()) {
      // A failed `test` (422) or a write race (409): read again and say what it declares now.
      if (r.error().IsInvalid() || r.error().IsConflict()) {
        SU_ASSIGN_OR_RETURN(Workload now, Read(w));
        if (now.container.image == to) return Status::Ok();
        return Changed(w, now.container.image, got.container.image, to);
      }
      return r.status().WithContext("changing the image of " + Describe(w));
    }
    LogInfo("kube.workload.image_set", {{"workload", Describe(w)}, {"container", got.container.name},
                                        {"from", got.container.image}, {"image", to}});
    return Status::Ok();
  }

  Status Rollout(const WorkloadRef& w, const std::string& image) override {
    // The workload's own controller rolls the new template out; we only check it is ours.
    SU_ASSIGN_OR_RETURN(Workload got, Read(w));
    if (!SameImage(got.container.image, image)) {
      return Status::Error(Code::kConflict, Describe(w) + " container " + got.container.name + " declares " +
                                                got.container.image + ", not " + image +
                                                " (changed since it was written or read)");
    }
    return Status::Ok();
  }

  Result<WorkloadStatus> Observe(const WorkloadRef& w) override {
    WorkloadStatus ws;
    SU_RETURN_IF_ERROR(CheckRef(w));
    auto got = api_->Get(WorkloadPath(w));
    if (!got.ok() && got.error().IsNotFound()) return ws;  // exists = false
    if (!got.ok()) return got.status().WithContext("reading " + Describe(w));
    SU_ASSIGN_OR_RETURN(RolloutView v, EvaluateRollout(w.kind, *got, w.container));
    SU_ASSIGN_OR_RETURN(value obj, Parse(*got, Describe(w)));
    SU_ASSIGN_OR_RETURN(ContainerAt c, FindContainer(obj, w.container, Describe(w)));
    ws.exists = true;
    ws.image = v.image;
    ws.rollout = v.state;
    ws.running = v.state == "complete";
    ws.state = v.state;
    ws.health = v.state == "complete" ? "healthy" : v.state == "failed" ? "unhealthy" : "starting";
    ws.detail = v.message;
    if (v.state == "complete") return ws;
    // Pods of the new template that cannot start: kubectl's warnings, and for a StatefulSet (which
    // has no progress deadline of its own) the verdict once one has waited past the deadline.
    PodLister pods(api_, clock_);
    auto problems = pods.Problems(obj, w.ns, c.name, v.image);
    if (!problems.ok()) {
      ws.detail += " (its pods could not be listed: " + problems.status().message() + ")";
      return ws;
    }
    ws.restart_count = 0;
    for (const auto& p : *problems) ws.restart_count = std::max(ws.restart_count, p.restarts);
    if (!problems->empty()) ws.detail += "; " + DescribeProblems(*problems, opt_.max_pods_reported);
    if (w.kind == "StatefulSet" && v.state == "progressing") {
      for (const auto& p : *problems) {
        if (p.age >= opt_.statefulset_progress_deadline) {
          ws.state = ws.rollout = "failed";
          ws.health = "unhealthy";
          ws.detail = "statefulset \"" + w.name + "\" made no progress: pod " + p.pod + " has waited " +
                      std::to_string(p.age.count()) + "s (the deadline is " +
                      std::to_string(opt_.statefulset_progress_deadline.count()) + "s); " + ws.detail;
          break;
        }
      }
    }
    return ws;
  }

  // Expand/contract: every live pod of the workload's selector, not only the current template's
  // and whatever the rollout status says: a complete rollout no longer counts a terminating pod
  // of the old ReplicaSet, which may still serve (its grace period, a finalizer), nor a pod
  // outside the ReplicaSets that the selector still matches.
  Result<std::vector<RunningInstance>> RunningInstances(const WorkloadRef& w) override {
    SU_RETURN_IF_ERROR(CheckRef(w));
    auto got = api_->Get(WorkloadPath(w));
    if (!got.ok() && got.error().IsNotFound()) return std::vector<RunningInstance>{};  // as Observe: nothing runs
    if (!got.ok()) return got.status().WithContext("reading " + Describe(w));
    SU_ASSIGN_OR_RETURN(value obj, Parse(*got, Describe(w)));
    SU_ASSIGN_OR_RETURN(ContainerAt c, FindContainer(obj, w.container, Describe(w)));
    PodLister pods(api_, clock_);
    auto live = pods.Live(obj, w.ns, c.name);
    if (!live.ok()) return live.status().WithContext(Describe(w));
    std::vector<RunningInstance> out;
    for (auto& p : *live) out.push_back({std::move(p.image), "pod " + p.pod});
    return out;
  }

  Result<std::string> Logs(const WorkloadRef& w, int lines) override {
    SU_ASSIGN_OR_RETURN(Workload got, Read(w));
    PodLister pods(api_, clock_);
    SU_ASSIGN_OR_RETURN(std::string text,
                        pods.Logs(got.obj, w.ns, got.container.name, got.container.image, lines, opt_.max_pods_reported));
    return Scrub(text);
  }

  Result<BumpPreflight> PreflightBump(const WorkloadRef& w, const std::string& target, bool fetch) override {
    (void)fetch;
    SU_ASSIGN_OR_RETURN(Workload got, Read(w));
    BumpPreflight p;
    p.declared = got.container.image;
    p.written = target;
    p.target = target;
    // The nodes pull the image when the new pods start; nothing to look up from here.
    p.image_present = true;
    p.note = "the image of container " + got.container.name + " in " + Describe(w) +
             "'s pod template is changed by a JSON patch (nothing else); the nodes pull " + target +
             " when its new pods start";
    return p;
  }

  bool CanHoldRollout(const WorkloadRef& w) override { return w.kind == "Deployment" || w.kind == "StatefulSet"; }

  Result<std::string> RolloutSetting(const WorkloadRef& w) override {
    SU_ASSIGN_OR_RETURN(Workload got, Read(w));
    if (w.kind == "Deployment") return std::string(Bool(got.obj, {"spec", "paused"}) ? "paused=true" : "paused=false");
    if (OnDelete(got.obj)) return std::string();  // its pods change only when deleted: nothing to hold
    const value* part = At(got.obj, {"spec", "updateStrategy", "rollingUpdate", "partition"});
    return "partition=" + (part && part->is_number() ? std::to_string(part->as_number().to_int64()) : std::string());
  }

  Status HoldRollout(const WorkloadRef& w) override {
    SU_ASSIGN_OR_RETURN(Workload got, Read(w));
    std::string patch;
    if (w.kind == "Deployment") {
      if (Bool(got.obj, {"spec", "paused"})) return Status::Ok();
      patch = R"({"spec":{"paused":true}})";
    } else {
      if (OnDelete(got.obj)) return Status::Ok();
      const int64_t replicas = Int(got.obj, {"spec", "replicas"}, 1);
      // Pods with an ordinal >= partition are updated: partition = replicas updates none.
      if (Int(got.obj, {"spec", "updateStrategy", "rollingUpdate", "partition"}, -1) >= replicas) return Status::Ok();
      patch = R"({"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":)" +
              std::to_string(replicas) + "}}}}";
    }
    auto r = api_->Patch(WorkloadPath(w), kube::PatchType::kMerge, patch);
    if (!r.ok()) return r.status().WithContext("holding the rollout of " + Describe(w));
    LogInfo("kube.workload.rollout_held", {{"workload", Describe(w)}});
    return Status::Ok();
  }

  Status ReleaseRollout(const WorkloadRef& w, const std::string& setting) override {
    SU_RETURN_IF_ERROR(CheckRef(w));
    std::string patch;
    if (w.kind == "Deployment") {
      if (setting == "paused=true") return Status::Ok();  // the user had paused it: leave it so
      if (setting != "paused=false") return BadSetting(w, setting);
      patch = R"({"spec":{"paused":null}})";
    } else {
      if (setting.rfind("partition=", 0) != 0) return BadSetting(w, setting);
      std::string was = setting.substr(10);
      if (!was.empty() && was.find_first_not_of("0123456789") != std::string::npos) return BadSetting(w, setting);
      patch = R"({"spec":{"updateStrategy":{"rollingUpdate":{"partition":)" + (was.empty() ? "null" : was) + "}}}}";
    }
    auto r = api_->Patch(WorkloadPath(w), kube::PatchType::kMerge, patch);
    if (!r.ok()) return r.status().WithContext("resuming the rollout of " + Describe(w));
    LogInfo("kube.workload.rollout_released", {{"workload", Describe(w)}, {"setting", setting}});
    return Status::Ok();
  }

 private:
  struct Workload {
    value obj;
    ContainerAt container;
  };

  Status CheckRef(const WorkloadRef& w) {
    if (w.kind != "Deployment" && w.kind != "StatefulSet") {
      return Status::Invalid("spec.workload.kind " + w.kind + " is not Deployment or StatefulSet");
    }
    if (w.name.empty()) return Status::Invalid("spec.workload.name is empty");
    if (w.ns.empty()) return Status::Invalid(Describe(w) + ": no namespace");
    return Status::Ok();
  }

  Result<Workload> Read(const WorkloadRef& w) {
    SU_RETURN_IF_ERROR(CheckRef(w));
    auto got = api_->Get(WorkloadPath(w));
    if (!got.ok()) {
      if (got.error().IsNotFound()) {
        return Status::Error(Code::kNotFound, Describe(w) + " not found: create it, or fix spec.workload (kind, name)");
      }
      return got.status().WithContext("reading " + Describe(w));
    }
    SU_ASSIGN_OR_RETURN(value obj, Parse(*got, Describe(w)));
    SU_ASSIGN_OR_RETURN(ContainerAt c, FindContainer(obj, w.container, Describe(w)));
    return Workload{std::move(obj), std::move(c)};
  }

  Status Changed(const WorkloadRef& w, const std::string& now, const std::string& from, const std::string& to) {
    return Status::Error(Code::kConflict, Describe(w) + " container " + (w.container.empty() ? "(first)" : w.container) +
                                              " now declares " + now + ", not " + from +
                                              " as when this upgrade read it (changed since); not overwriting it "
                                              "with " + to + ": the next attempt reads it again");
  }

  static bool OnDelete(const value& obj) { return Str(obj, {"spec", "updateStrategy", "type"}) == "OnDelete"; }

  Status BadSetting(const WorkloadRef& w, const std::string& setting) {
    return Status::Invalid(Describe(w) + ": status.rolloutHold \"" + setting +
                           "\" is not a setting this runtime wrote; resume the rollout by hand");
  }

  kube::KubeApi* api_;
  Clock* clock_;
  KubeWorkloadOptions opt_;
};

}  // namespace

std::unique_ptr<WorkloadRuntime> NewKubeWorkloadRuntime(KubeWorkloadOptions options) {
  return std::make_unique<KubeWorkloadRuntime>(std::move(options));
}

}  // namespace su
