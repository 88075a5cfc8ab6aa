// The Kubernetes ContainerRuntime (runtime.h): each RunOnce is a batch/v1 Job in the resource's
// namespace, bound to one SchemaUpgrade (KubeJobOptions), so the ory engine runs the target image's
// migrator as a Job the way it runs `podman run` in the Podman mode.
//
// The Job (BuildMigrationJob):
//   name         MigrationJobName: "su-<resource name>-<hash>", the hash of what it runs (resource,
//                image, entrypoint, args, env names and Secret refs, ContainerRunSpec::name). The
//                same step always has the same name, so a restarted controller (or a second
//                replica) finds the Job already there and waits for it instead of starting another.
//   owner        an ownerReference to the SchemaUpgrade (uid; deleted with it), labels
//                app.kubernetes.io/managed-by=schema-upgrade-operator, olympus.io/schemaupgrade=<name>
//                and olympus.io/schemaupgrade-uid=<uid> on the Job and its pod (find them with -l).
//   spec         backoffLimit 0 (the controller owns retries and backoff), activeDeadlineSeconds from
//                ContainerRunSpec::timeout (else default_deadline), ttlSecondsAfterFinished (a failed
//                Job stays that long to read its logs), restartPolicy Never, one container "migrate"
//                with terminationMessagePolicy FallbackToLogsOnError.
//   inheritance  when the resource names a Deployment/StatefulSet, from its pod template:
//                serviceAccountName, automountServiceAccountToken, imagePullSecrets, pod
//                securityContext, nodeSelector, tolerations, affinity, priorityClassName; from the
//                named container: env (minus the names this run sets), envFrom, volumeMounts and the
//                pod volumes they mount, securityContext, resources, imagePullPolicy.
//   restricted   Pod Security Standard "restricted" where the template is silent: runAsNonRoot true,
//                seccompProfile RuntimeDefault, allowPrivilegeEscalation false, capabilities drop
//                ALL. What the template says explicitly wins (the migrator runs as the app runs).
//   secrets      ContainerRunSpec::env_from_secret become env valueFrom.secretKeyRef. A spec with
//                plain env values is refused (kInvalidArgument): the Job would carry them.
//   claims       ContainerRunSpec::claim_mounts become persistentVolumeClaim volumes "claim-<i>" and
//                their volumeMounts (subPath, readOnly); KubeJobOptions::fs_group sets the pod's
//                fsGroup (where the template is silent) so a non-root image can write to the claim.
//
// RunOnce: GET the Job by name. Running: adopt it and wait. Finished (an earlier attempt's, whose
// result was read or lost with a killed controller): deleted first (precondition on its uid), then
// created again under the same name: retries reuse the name, so a failed attempt's Job and logs stay
// until the next attempt or its TTL. Missing: create. Then poll (poll_interval) until the Job is
// Complete or Failed, streaming the pod's new log text to on_output. The result: exit code and
// termination message from the pod's terminated state, output from pods/log (all of it; stdout
// and stderr are one stream in Kubernetes, returned in `out`); DeadlineExceeded is timed_out. A
// Job that succeeded is deleted at once (nothing to read); a failed one stays and its name is
// added to the output ("job ns/name: kubectl logs ...") so status and the Warning Event point at
// it. RetriesFailedRuns() is true: a failed Job is retried by the reconciler with the policy's
// backoff (retries.limit times in a row, then permanent), each retry under the same name as above.
// Errors: kInvalidArgument (plain env values, bad spec), kNotFound (the pod could not start within
// start_grace: image not pullable, its Secret or key missing: ErrImagePull, ImagePullBackOff,
// InvalidImageName, CreateContainerConfigError; the Job is deleted: it ran nothing), kFailed (a Job
// of that name exists that is not ours; 401/403 RBAC), kCancelled (cancelled(): the Job keeps
// running and the next run adopts it), kUnavailable (API unreachable, the Job vanished while
// waited for).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/spec.h"
#include "kube/api.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/base/result.h"
#include "reconcilers/runtimes/runtime.h"

namespace su {

inline const kube::GroupVersionResource kJobs{"batch", "v1", "jobs", true};

inline constexpr const char* kJobManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kJobManagedBy = "schema-upgrade-operator";
inline constexpr const char* kJobResourceLabel = "olympus.io/schemaupgrade";
inline constexpr const char* kJobResourceUidLabel = "olympus.io/schemaupgrade-uid";
inline constexpr const char* kJobContainer = "migrate";
// ContainerRunSpec::folder_from_image: the init container that copies the folder, and its emptyDir.
inline constexpr const char* kJobCopyContainer = "copy-folder";
inline constexpr const char* kJobFolderVolume = "folder";

struct KubeJobOptions {
  kube::KubeApi* api = nullptr;  // required; not owned
  Clock* clock = nullptr;        // nullptr: RealClock()
  // The SchemaUpgrade the Jobs belong to: namespace (where they run), name, uid (ownerReference;
  // empty: no ownerReference and no uid label).
  std::string ns;
  std::string name;
  std::string uid;
  // The pod template to inherit from (kind Deployment/StatefulSet; anything else: none).
  WorkloadRef workload;
  std::chrono::seconds ttl_after_finished{3600};
  std::chrono::seconds default_deadline{3600};  // activeDeadlineSeconds when the spec has no timeout
  std::chrono::milliseconds poll_interval{1000};
  // A pod waiting this long in ErrImagePull / ImagePullBackOff / CreateContainerConfigError fails
  // the run (the Job is deleted: it ran nothing).
  std::chrono::seconds start_grace{120};
  // The pod's securityContext.fsGroup when the template sets none (-1: not set). Backup Jobs set it
  // so the claim is group-writable for whatever non-root user the image runs as.
  int64_t fs_group = -1;
};

// "su-<name>-<hash10>": a DNS-1123 label of at most 54 characters.
std::string MigrationJobName(const KubeJobOptions& o, const ContainerRunSpec& spec);

// The Job as JSON. workload_json: the Deployment/StatefulSet to inherit from ("" for none).
// kInvalidArgument: plain env values, a workload without the named container.
Result<std::string> BuildMigrationJob(const KubeJobOptions& o, const ContainerRunSpec& spec,
                                      const std::string& workload_json);

std::unique_ptr<ContainerRuntime> NewKubeJobRuntime(KubeJobOptions options);

}  // namespace su
