// EvaluateRollout: `kubectl rollout status` for one Deployment or StatefulSet object (see
// kube_workload.h; kubectl's rules in k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go).
#include "reconcilers/runtimes/kubernetes/kube_workload.h"
#include "reconcilers/runtimes/kubernetes/workload_json.h"

namespace su {

using namespace kube_runtime;

namespace {

std::string Q(const std::string& s) { return "\"" + s + "\""; }

RolloutView Deployment(const value& d, RolloutView v) {
  const std::string name = Str(d, {"metadata", "name"});
  const int64_t generation = Int(d, {"metadata", "generation"});
  const int64_t observed = Int(d, {"status", "observedGeneration"});
  const bool paused = Bool(d, {"spec", "paused"});
  auto waiting = [&](std::string msg) {
    // A paused Deployment does not go on by itself: say so rather than "waiting".
    v.state = paused ? "paused" : "progressing";
    v.message = paused ? "deployment " + Q(name) + " is paused (spec.paused: true): " + msg : msg;
    return v;
  };
  if (generation > observed) return waiting("Waiting for deployment spec update to be observed...");
  if (const value* conds = At(d, {"status", "conditions"}); conds && conds->is_array()) {
    for (const auto& c : conds->as_array()) {
      if (Str(c, {"type"}) == "Progressing" && Str(c, {"reason"}) == "ProgressDeadlineExceeded") {
        v.state = "failed";
        v.message = "deployment " + Q(name) + " exceeded its progress deadline (ProgressDeadlineExceeded: " +
                    Str(c, {"message"}) + ")";
        return v;
      }
    }
  }
  const bool has_replicas = Has(d, {"spec", "replicas"});
  // Unset spec.replicas defaults to 1 (the API server defaults it; kubectl reads the default).
  const int64_t want = Int(d, {"spec", "replicas"}, 1);
  const int64_t updated = Int(d, {"status", "updatedReplicas"});
  const int64_t replicas = Int(d, {"status", "replicas"});
  const int64_t available = Int(d, {"status", "availableReplicas"});
  (void)has_replicas;
  if (updated < want) {
    return waiting("Waiting for deployment " + Q(name) + " rollout to finish: " + std::to_string(updated) + " out of " +
                   std::to_string(want) + " new replicas have been updated...");
  }
  if (replicas > updated) {
    return waiting("Waiting for deployment " + Q(name) + " rollout to finish: " + std::to_string(replicas - updated) +
                   " old replicas are pending termination...");
  }
  if (available < updated) {
    return waiting("Waiting for deployment " + Q(name) + " rollout to finish: " + std::to_string(available) + " of " +
                   std::to_string(updated) + " updated replicas are available...");
  }
  v.state = "complete";
  v.message = "deployment " + Q(name) + " successfully rolled out";
  return v;
}

RolloutView StatefulSet(const value& s, RolloutView v) {
  const std::string name = Str(s, {"metadata", "name"});
  const std::string type = Str(s, {"spec", "updateStrategy", "type"});
  if (!type.empty() && type != "RollingUpdate") {
    v.state = "failed";
    v.message = "statefulset " + Q(name) + " uses updateStrategy " + type +
                ": its pods change only when deleted, so a rollout cannot be watched; use RollingUpdate";
    return v;
  }
  v.state = "progressing";
  const int64_t generation = Int(s, {"metadata", "generation"});
  const int64_t observed = Int(s, {"status", "observedGeneration"});
  if (observed == 0 || generation > observed) {
    v.message = "Waiting for statefulset spec update to be observed...";
    return v;
  }
  const int64_t want = Int(s, {"spec", "replicas"}, 1);
  const int64_t ready = Int(s, {"status", "readyReplicas"});
  const int64_t updated = Int(s, {"status", "updatedReplicas"});
  if (ready < want) {
    v.message = "Waiting for " + std::to_string(want - ready) + " pods to be ready...";
    return v;
  }
  if (Has(s, {"spec", "updateStrategy", "rollingUpdate"})) {
    if (Has(s, {"spec", "updateStrategy", "rollingUpdate", "partition"})) {
      const int64_t partition = Int(s, {"spec", "updateStrategy", "rollingUpdate", "partition"});
      if (updated < want - partition) {
        v.message = "Waiting for partitioned roll out to finish: " + std::to_string(updated) + " out of " +
                    std::to_string(want - partition) + " new pods have been updated...";
        return v;
      }
    }
    v.state = "complete";
    v.message = "partitioned roll out complete: " + std::to_string(updated) + " new pods have been updated...";
    return v;
  }
  const std::string update_rev = Str(s, {"status", "updateRevision"});
  const std::string current_rev = Str(s, {"status", "currentRevision"});
  if (update_rev != current_rev) {
    v.message = "waiting for statefulset rolling update to complete " + std::to_string(updated) +
                " pods at revision " + update_rev + "...";
    return v;
  }
  v.state = "complete";
  v.message = "statefulset rolling update complete " + std::to_string(Int(s, {"status", "currentReplicas"})) +
              " pods at revision " + current_rev + "...";
  return v;
}

}  // namespace

Result<RolloutView> EvaluateRollout(const std::string& kind, const std::string& workload_json,
                                    const std::string& container) {
  SU_ASSIGN_OR_RETURN(value obj, Parse(workload_json, kind));
  const std::string describe = kind + " " + Str(obj, {"metadata", "namespace"}) + "/" + Str(obj, {"metadata", "name"});
  SU_ASSIGN_OR_RETURN(ContainerAt c, FindContainer(obj, container, describe));
  RolloutView v;
  v.image = c.image;
  if (kind == "Deployment") return Deployment(obj, v);
  if (kind == "StatefulSet") return StatefulSet(obj, v);
  return Status::Invalid("workload kind " + kind + " is not Deployment or StatefulSet");
}

}  // namespace su
