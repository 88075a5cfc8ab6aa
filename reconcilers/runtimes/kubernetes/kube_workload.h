// The Kubernetes WorkloadRuntime (runtime.h) for Deployments and StatefulSets, through KubeApi
// (kube/api.h), in the workload's namespace (WorkloadRef::ns). The named container
// (WorkloadRef::container, default the first) of spec.template.spec.containers is the one bumped.
//
//   DeclaredImage     the container's image in the pod template.
//   SetDeclaredImage  a JSON patch (RFC 6902) that changes nothing but that image, guarded by `test`
//                     ops on the container's name and image at its index: a compare-and-swap, so a
//                     workload changed since it was read is never overwritten (kConflict, retried).
//                     Already declaring `to` is success. The pod template changes, so the workload's
//                     own controller starts the rollout.
//   Rollout           nothing to start (the controller rolls out the template); checks that the
//                     template declares `image` (kConflict otherwise).
//   Observe           the rollout as `kubectl rollout status` judges it (EvaluateRollout below), plus
//                     the pods of the new template that wait in CrashLoopBackOff, ImagePullBackOff,
//                     ErrImagePull or CreateContainer*Error, named in WorkloadStatus::detail.
//   RunningInstances  every pod the workload's spec.selector selects that has not terminated
//                     (phase not Succeeded/Failed; being deleted but not yet stopped counts), with
//                     the image the container runs in it (expand/contract's "old version gone").
//   Logs              the last lines of those pods (pods/log, tailLines; the previous container of a
//                     crash-looping one), else of the newest pod.
//   PreflightBump     the workload and container exist (kNotFound / kInvalidArgument naming them);
//                     nothing is changed. The image is pulled by the nodes: present is reported true.
//   Hold/Release      Deployment spec.paused (true while held); StatefulSet
//                     spec.updateStrategy.rollingUpdate.partition (= spec.replicas while held); an
//                     OnDelete StatefulSet rolls nothing out by itself: its setting is "" (no hold).
// Errors: kNotFound (the workload is gone), kInvalidArgument (no such container), kUnavailable (the API cannot be reached, 409/429/5xx),
// kFailed (401/403: credentials or RBAC).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "kube/api.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/base/result.h"
#include "reconcilers/runtimes/runtime.h"

namespace su {

struct KubeWorkloadOptions {
  kube::KubeApi* api = nullptr;  // required; not owned
  Clock* clock = nullptr;        // nullptr: RealClock()
  // A StatefulSet has no progress deadline of its own: a pod of the new template that has waited
  // this long since it was created, in CrashLoopBackOff / ImagePullBackOff / ErrImagePull, fails
  // the rollout (a Deployment's own spec.progressDeadlineSeconds decides for it).
  std::chrono::seconds statefulset_progress_deadline{600};
  int max_pods_reported = 3;  // pods named (and their logs quoted) in a failure
};

std::unique_ptr<WorkloadRuntime> NewKubeWorkloadRuntime(KubeWorkloadOptions options);

// Where a rollout stands, from the workload object alone (kubectl's rollout status rules):
// Deployment: generation > status.observedGeneration: progressing (not observed yet); Progressing
// condition reason ProgressDeadlineExceeded: failed; updatedReplicas < spec.replicas, replicas >
// updatedReplicas (old replicas left), availableReplicas < updatedReplicas: progressing; spec.paused
// while not complete: paused; else complete.
// StatefulSet: updateStrategy OnDelete: failed (cannot be watched: nothing rolls out by itself);
// observedGeneration 0 or behind: progressing; readyReplicas < spec.replicas: progressing;
// rollingUpdate.partition set: updatedReplicas >= replicas - partition is complete; otherwise
// currentRevision == updateRevision is complete.
struct RolloutView {
  std::string state;    // complete | progressing | paused | failed
  std::string message;  // kubectl's sentence ("Waiting for deployment \"x\" rollout to finish: ...")
  std::string image;    // the container's image in the template
};
// kInvalidArgument when json is not a Deployment/StatefulSet or lacks the container.
Result<RolloutView> EvaluateRollout(const std::string& kind, const std::string& workload_json,
                                    const std::string& container);

// The Verifier (reconciler.h) for asynchronous rollouts: observes through the runtime until the
// rollout of `image` is complete and stays so for `settle` (Ok), fails (kFailed: the runtime's
// detail, the pods' last log lines, what to do next), or `per_call` runs out while it progresses
// (kGated: "rollout in progress: ...": the reconciler waits and looks again). Observation errors
// are returned as they are (kUnavailable: retried); a workload that now declares another image is
// kConflict (someone changed it meanwhile), a deleted one kFailed. Meant for this runtime: a
// runtime without rollout states (Podman) never says "failed", so only per_call would end the wait.
struct RolloutVerifyOptions {
  std::chrono::milliseconds per_call{20000};
  std::chrono::milliseconds poll_interval{1000};
  int log_lines = 20;
};
Status VerifyRollout(WorkloadRuntime* runtime, const WorkloadRef& w, const std::string& image,
                     std::chrono::milliseconds settle, Clock* clock, const RolloutVerifyOptions& options = {});

}  // namespace su
