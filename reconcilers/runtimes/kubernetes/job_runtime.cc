// The migration Job runtime (see kube_job.h): create or adopt the Job, wait for it, read its result.
#include <algorithm>
#include <set>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"
#include "reconcilers/runtimes/kubernetes/pods.h"
#include "reconcilers/runtimes/kubernetes/workload_json.h"

namespace su {
namespace {

using kube_runtime::At;
using kube_runtime::Str;
using kube_runtime::value;

const kube::GroupVersionResource kJobDeployments{"apps", "v1", "deployments", true};
const kube::GroupVersionResource kJobStatefulSets{"apps", "v1", "statefulsets", true};
const kube::GroupVersionResource kJobPods{"", "v1", "pods", true};

// Waiting reasons of a container that will not start by itself soon.
const std::set<std::string> kCannotStart = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                                            "CreateContainerConfigError", "CreateContainerError"};

// "Complete", "Failed" (with the condition's reason), or "" while it runs.
std::string Finished(const value& job, std::string* reason) {
  const value* conds = At(job, {"status", "conditions"});
  if (!conds || !conds->is_array()) return "";
  for (const auto& c : conds->as_array()) {
    std::string type = Str(c, {"type"});
    if ((type == "Complete" || type == "Failed") && Str(c, {"status"}) == "True") {
      if (reason) *reason = Str(c, {"reason"});
      return type;
    }
  }
  return "";
}

Status FromApi(const kube::ApiError& e, const std::string& what) {
  Status s = e.ToStatus();
  if (e.IsForbidden() || e.IsUnauthorized()) {
    return Status::Failed(what + ": " + e.Describe() +
                          "; grant the controller's ServiceAccount the permission (manifests/rbac.yaml, the chart)");
  }
  return Status::Error(s.code(), what + ": " + e.Describe());
}

// The container's status in a pod ("migrate"), or nullptr.
const value* MigrateStatus(const value& pod) {
  const value* cs = At(pod, {"status", "containerStatuses"});
  if (!cs || !cs->is_array()) return nullptr;
  for (const auto& c : cs->as_array()) {
    if (Str(c, {"name"}) == kJobContainer) return &c;
  }
  return nullptr;
}

class KubeJobRuntime : public ContainerRuntime {
 public:
  explicit KubeJobRuntime(KubeJobOptions o) : o_(std::move(o)), api_(o_.api) {
    if (!o_.clock) o_.clock = RealClock();
  }

  Result<bool> ImageExists(const std::string&) override { return true; }  // the nodes pull it
  bool RetriesFailedRuns() const override { return true; }  // backoffLimit 0: the controller retries

  Result<ProcessResult> RunOnce(const ContainerRunSpec& spec) override {
    const std::string name = MigrationJobName(o_, spec);
    const std::string what = "migration Job " + o_.ns + "/" + name;
    std::string workload;
    if (o_.workload.kind == "Deployment" || o_.workload.kind == "StatefulSet") {
      auto w = api_->Get(kube::ResourcePath{o_.workload.kind == "Deployment" ? kJobDeployments : kJobStatefulSets,
                                              o_.ns, o_.workload.name});
      if (!w.ok()) return FromApi(w.error(), what + ": reading the pod template of " + o_.workload.kind + " " + o_.workload.name);
      workload = *w;
    }
    SU_ASSIGN_OR_RETURN(std::string body, BuildMigrationJob(o_, spec, workload));
    SU_ASSIGN_OR_RETURN(std::string uid, CreateOrAdopt(name, body, what));
    return Wait(name, uid, spec, what);
  }

 private:
  // The uid of the Job to wait for: ours already running (adopted), or one created now (after
  // deleting a finished one of an earlier attempt).
  Result<std::string> CreateOrAdopt(const std::string& name, const std::string& body, const std::string& what) {
    const kube::ResourcePath path{kJobs, o_.ns, name};
    for (int round = 0; round < 20; ++round) {
      auto got = api_->Get(path);
      if (got.ok()) {
        SU_ASSIGN_OR_RETURN(value job, kube_runtime::Parse(*got, what));
        std::string uid = Str(job, {"metadata", "uid"});
        if (Str(job, {"metadata", "labels", kJobManagedByLabel}) != kJobManagedBy ||
            Str(job, {"metadata", "annotations", "olympus.io/resource"}) != o_.ns + "/" + o_.name) {
          return Status::Failed(what + " exists but was not created by this controller for " + o_.ns + "/" + o_.name +
                                "; delete or rename it (kubectl delete job " + name + " -n " + o_.ns + ")");
        }
        if (Has(job, {"metadata", "deletionTimestamp"})) {
          o_.clock->SleepFor(o_.poll_interval);  // an earlier delete in progress (finalizers)
          continue;
        }
        std::string reason;
        if (Finished(job, &reason).empty()) {
          LogInfo("job.adopted", {{"job", o_.ns + "/" + name}, {"resource", o_.ns + "/" + o_.name}});
          return uid;
        }
        // An earlier attempt's Job (its result was read, or lost with a killed controller): the
        // caller asks for a new run, under the same name.
        kube::DeleteOptions del;
        del.precondition_uid = uid;
        del.propagation_policy = "Background";
        auto d = api_->Delete(path, del);
        if (!d.ok() && !d.error().IsNotFound() && !d.error().IsConflict()) return FromApi(d.error(), what + ": deleting the finished Job of an earlier attempt");
        LogInfo("job.replaced", {{"job", o_.ns + "/" + name}, {"previous", reason.empty() ? "Complete" : reason}});
        continue;
      }
      if (!got.error().IsNotFound()) return FromApi(got.error(), what);
      auto made = api_->Create(kube::ResourcePath{kJobs, o_.ns}, body);
      if (made.ok()) {
        SU_ASSIGN_OR_RETURN(value job, kube_runtime::Parse(*made, what));
        LogInfo("job.created", {{"job", o_.ns + "/" + name}, {"resource", o_.ns + "/" + o_.name}});
        return Str(job, {"metadata", "uid"});
      }
      if (!made.error().IsAlreadyExists()) return FromApi(made.error(), what + ": creating it");
      // Created meanwhile by another replica: read it again and adopt it.
    }
    return Status::Error(Code::kUnavailable, what + ": could not be created or adopted (it keeps changing); retried");
  }

  static bool Has(const value& v, std::initializer_list<const char*> keys) { return kube_runtime::Has(v, keys); }

  // The newest pod of the Job, or a null value.
  Result<value> NewestPod(const std::string& uid, const std::string& what) {
    kube::ListOptions lo;
    lo.label_selector = "batch.kubernetes.io/controller-uid=" + uid;
    auto pods = api_->List(kube::ResourcePath{kJobPods, o_.ns}, lo);
    if (!pods.ok()) return FromApi(pods.error(), what + ": listing its pods");
    value newest;
    std::string newest_at;
    for (const auto& item : pods->items) {
      SU_ASSIGN_OR_RETURN(value p, kube_runtime::Parse(item, what));
      std::string at = Str(p, {"metadata", "creationTimestamp"});
      if (newest.is_null() || at >= newest_at) {
        newest = p;
        newest_at = at;
      }
    }
    return newest;
  }

  std::string PodLog(const std::string& pod) {
    auto log = api_->Get(kube::ResourcePath{kJobPods, o_.ns, pod, "log", std::string("container=") + kJobContainer});
    return log.ok() ? *log : std::string();
  }

  Result<ProcessResult> Wait(const std::string& name, const std::string& uid, const ContainerRunSpec& spec,
                             const std::string& what) {
    const kube::ResourcePath path{kJobs, o_.ns, name};
    size_t fed = 0;
    std::string pod_name;
    std::string stuck_reason;
    Clock::MonoTimePoint stuck_since{};
    std::string finished, finished_reason;
    value pod;
    while (true) {
      if (spec.cancelled && spec.cancelled()) {
        return Status::Error(Code::kCancelled, what + ": stopped waiting (shutdown); the Job keeps running and the "
                                                      "next run adopts it");
      }
      auto got = api_->Get(path);
      if (!got.ok()) {
        if (got.error().IsNotFound()) {
          return Status::Error(Code::kUnavailable, what + " was deleted while the controller waited for it; retried");
        }
        if (got.error().IsRetryable()) {
          o_.clock->SleepFor(o_.poll_interval);
          continue;
        }
        return FromApi(got.error(), what);
      }
      SU_ASSIGN_OR_RETURN(value job, kube_runtime::Parse(*got, what));
      if (Str(job, {"metadata", "uid"}) != uid) {
        return Status::Error(Code::kUnavailable, what + " was replaced while the controller waited for it; retried");
      }
      finished = Finished(job, &finished_reason);
      auto p = NewestPod(uid, what);
      if (p.ok() && !p->is_null()) {
        pod = *p;
        pod_name = Str(pod, {"metadata", "name"});
        const value* cs = MigrateStatus(pod);
        std::string waiting = cs ? Str(*cs, {"state", "waiting", "reason"}) : "";
        if (finished.empty() && kCannotStart.count(waiting)) {
          auto now = o_.clock->MonotonicNow();
          // ErrImagePull and ImagePullBackOff alternate: one stretch of "cannot start".
          if (stuck_reason.empty()) stuck_since = now;
          stuck_reason = waiting;
          if (now - stuck_since >= o_.start_grace) {
            std::string msg = cs ? Str(*cs, {"state", "waiting", "message"}) : "";
            kube::DeleteOptions del;
            del.precondition_uid = uid;
            del.propagation_policy = "Background";
            (void)api_->Delete(path, del);  // it ran nothing: the next attempt starts clean
            return Status::Error(Code::kNotFound,
                                 what + ": pod " + pod_name + " could not start its container for " +
                                     std::to_string(std::chrono::duration_cast<std::chrono::seconds>(o_.start_grace).count()) +
                                     "s: " + waiting + (msg.empty() ? "" : " (" + Scrub(msg) + ")") +
                                     "; check the image " + spec.image + ", its pull secrets and the Secrets the pod "
                                     "references; the Job was deleted");
          }
        } else {
          stuck_reason.clear();
        }
        bool started = cs && (Has(*cs, {"state", "running"}) || Has(*cs, {"state", "terminated"}));
        if (spec.on_output && started) Feed(spec, PodLog(pod_name), &fed);
      }
      if (!finished.empty()) break;
      o_.clock->SleepFor(o_.poll_interval);
    }

    ProcessResult r;
    std::string log = pod_name.empty() ? std::string() : PodLog(pod_name);
    const value* cs = pod.is_null() ? nullptr : MigrateStatus(pod);
    std::string message = cs ? Str(*cs, {"state", "terminated", "message"}) : "";
    if (log.empty() && !message.empty()) log = message;  // the termination message: last log lines
    if (finished != "Complete" && !pod.is_null()) {
      // An init container that failed (the folder copy): the main container never ran; its words
      // are the init container's.
      if (const value* ics = At(pod, {"status", "initContainerStatuses"}); ics && ics->is_array()) {
        for (const auto& ic : ics->as_array()) {
          const int64_t ic_code = kube_runtime::Int(ic, {"state", "terminated", "exitCode"}, 0);
          if (ic_code == 0) continue;
          const std::string ic_name = Str(ic, {"name"});
          auto ic_log = api_->Get(kube::ResourcePath{kJobPods, o_.ns, pod_name, "log", "container=" + ic_name});
          std::string text = ic_log.ok() ? *ic_log : Str(ic, {"state", "terminated", "message"});
          log += "init container " + ic_name + " exited " + std::to_string(ic_code) + (text.empty() ? "" : ": ") + text;
          if (!log.empty() && log.back() != '\n') log += '\n';
          break;
        }
      }
    }
    if (spec.on_output) Feed(spec, log, &fed);
    r.out = log;
    const int64_t code = cs ? kube_runtime::Int(*cs, {"state", "terminated", "exitCode"}, -1) : -1;
    if (finished == "Complete") {
      r.exit_code = code < 0 ? 0 : static_cast<int>(code);
      kube::DeleteOptions del;
      del.precondition_uid = uid;
      del.propagation_policy = "Background";
      (void)api_->Delete(path, del);  // nothing left to read
      LogInfo("job.succeeded", {{"job", o_.ns + "/" + name}});
      return r;
    }
    r.timed_out = finished_reason == "DeadlineExceeded";
    r.exit_code = r.timed_out ? -1 : (code > 0 ? static_cast<int>(code) : 1);
    if (r.timed_out) r.term_signal = 9;
    r.err = "job " + o_.ns + "/" + name + " failed (" + (finished_reason.empty() ? "Failed" : finished_reason) +
            (pod_name.empty() ? "" : ", pod " + pod_name) + "): kubectl logs job/" + name + " -n " + o_.ns +
            "; kept for " + std::to_string(o_.ttl_after_finished.count()) + "s (ttlSecondsAfterFinished)\n";
    if (spec.on_output) spec.on_output(r.err, true);
    LogWarn("job.failed", {{"job", o_.ns + "/" + name}, {"reason", finished_reason},
                           {"exit_code", std::to_string(r.exit_code)}});
    return r;
  }

  // Hands the part of the log not yet handed over to on_output.
  static void Feed(const ContainerRunSpec& spec, const std::string& log, size_t* fed) {
    if (log.size() < *fed) *fed = 0;  // a different (restarted) container's log: start over
    if (log.size() > *fed) spec.on_output(log.substr(*fed), false);
    *fed = log.size();
  }

  KubeJobOptions o_;
  kube::KubeApi* api_;  // o_.api, named so tests/integration/deploy/rbac_calls.py reads the calls
};

}  // namespace

std::unique_ptr<ContainerRuntime> NewKubeJobRuntime(KubeJobOptions options) {
  return std::make_unique<KubeJobRuntime>(std::move(options));
}

}  // namespace su
