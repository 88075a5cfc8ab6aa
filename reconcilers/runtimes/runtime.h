// The edges to where services run. ContainerRuntime runs one-off containers (migrations with the
// target image); WorkloadRuntime reads and changes a long-running workload's image (bump), rolls it
// out and observes it (verify). Podman implements both (runtimes/podman/); Kubernetes implements
// WorkloadRuntime for Deployments and StatefulSets and ContainerRuntime as migration Jobs
// (runtimes/kubernetes/).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/spec.h"
#include "reconcilers/base/process.h"
#include "reconcilers/base/result.h"

namespace su {

struct ContainerRunSpec {
  std::string image;
  std::vector<std::string> entrypoint;        // empty: the image's own
  std::vector<std::string> args;              // command / arguments after the image
  // Environment for the container. Values are handed to the runtime through its own process
  // environment and referenced by name only (`podman run --env NAME`), so they never appear in argv.
  std::map<std::string, std::string> env;
  // Environment from Secrets, by reference only (Kubernetes: env valueFrom.secretKeyRef in the
  // Job's pod, so the value never enters the Job object). Runtimes that cannot read Secrets
  // (Podman) refuse a spec that has any (kInvalidArgument).
  struct SecretKeyRef {
    std::string name;  // the Secret, in the namespace the container runs in
    std::string key;
  };
  std::map<std::string, SecretKeyRef> env_from_secret;
  // Kubernetes only: before the container starts, an init container of `image` copies the folder
  // `path` of that image into an emptyDir mounted in the container at `mount` (`sh -c 'cp -R'`:
  // the image needs sh and cp). The container is then not the app's: it inherits the workload's
  // pod settings but not its container's env, mounts or resources (the init container takes the
  // container's securityContext and imagePullPolicy). Runtimes without init containers refuse it.
  struct FolderFromImage {
    std::string image;
    std::string path;
    std::string mount;
  };
  std::optional<FolderFromImage> folder_from_image;
  // PersistentVolumeClaims mounted into the container (Kubernetes: a persistentVolumeClaim volume
  // and a volumeMount; the backup Job's claim). Runtimes without claims (Podman) refuse a spec
  // that has any (kInvalidArgument).
  struct ClaimMount {
    std::string claim;       // the PersistentVolumeClaim, in the namespace the container runs in
    std::string sub_path;    // folder inside the claim mounted; "" : its root
    std::string mount_path;  // where the container sees it
    bool read_only = false;
  };
  std::vector<ClaimMount> claim_mounts;
  std::string network = "host";
  std::string name;                           // container name; empty: generated
  std::chrono::milliseconds timeout{0};
  std::function<void(const std::string& chunk, bool is_stderr)> on_output;
  std::function<bool()> cancelled;
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;
  // Runs the container to completion and removes it (`podman run --rm`). A non-zero exit is a
  // result, not an error; errors are for "could not run at all" (kNotFound image, kUnavailable).
  virtual Result<ProcessResult> RunOnce(const ContainerRunSpec& spec) = 0;
  virtual Result<bool> ImageExists(const std::string& image) = 0;
  // True when a run that exited non-zero deserves retries with the policy's backoff before the
  // failure counts as permanent: a Kubernetes Job (its pod may fail for the cluster's reasons:
  // eviction, preemption, OOM, a database Service not ready yet; the Job has backoffLimit 0 because
  // the controller owns the retries). False for podman (a failed migrator is the migration's fault).
  virtual bool RetriesFailedRuns() const { return false; }
};

struct WorkloadStatus {
  bool exists = false;       // a container/pod for the workload exists
  bool running = false;
  std::string image;         // image the running container was created from
  std::string state;         // runtime's word (running, exited, ...)
  std::string health;        // healthy | unhealthy | starting | "" (no health check)
  int restart_count = 0;
  int exit_code = 0;
  std::string started_at;    // RFC 3339 when known
  // Runtimes whose rollout runs on its own after the change (Kubernetes): where it stands, as
  // `kubectl rollout status` sees it: complete | progressing | paused | failed. "" for runtimes
  // without the notion (Podman: Rollout returns once the container runs). `running` is true only
  // when complete.
  std::string rollout;
  // One or two sentences on what the runtime sees (the rollout's progress, pods waiting in
  // CrashLoopBackOff / ImagePullBackOff with their names); "" when there is nothing to say.
  std::string detail;
};

// What SetDeclaredImage(w, target) would do, worked out without changing anything (pre-flight).
struct BumpPreflight {
  std::string declared;   // the image value as written (may use compose interpolation)
  std::string written;    // the value SetDeclaredImage would write
  std::string target;     // the image the workload runs after the bump
  // A sentence for the plan when the edit is not a plain replacement of the value (e.g. the
  // default inside ${VAR:-...} is edited and the variable kept); empty otherwise.
  std::string note;
  bool image_present = false;  // target is in local storage (after pulling it, when fetch was asked)
  bool pulled = false;         // this call pulled it
};

// One running instance of a workload (WorkloadRuntime::RunningInstances): the image it runs and
// its name for messages (a container or pod name; empty when the runtime has none).
struct RunningInstance {
  std::string image;
  std::string name;
};

class WorkloadRuntime {
 public:
  virtual ~WorkloadRuntime() = default;
  // The image the workload is declared with (compose file's image: / Deployment template), as the
  // runtime's tools resolve it (compose interpolation applied).
  virtual Result<std::string> DeclaredImage(const WorkloadRef& w) = 0;
  // Changes the declared image from `from` (what the caller read and planned with) to `to`,
  // touching nothing else; atomic (readers see old or new). A compare-and-swap: when the workload
  // now declares neither `from` nor `to` (a person, GitOps or another tool changed it since the
  // caller read it), nothing is written and the result is kConflict (retryable: read again, plan
  // again). Already declaring `to` is success. An empty `from` skips the comparison.
  // Concurrent calls for workloads sharing one file (two services of a compose file) never lose
  // each other's edits.
  virtual Status SetDeclaredImage(const WorkloadRef& w, const std::string& from, const std::string& to) = 0;
  // Makes the running workload run `image`, which must be what the workload declares now (what the
  // caller just wrote or read): when the declaration names another image, nothing is started and
  // the result is kConflict (retryable).
  virtual Status Rollout(const WorkloadRef& w, const std::string& image) = 0;
  // What is running now.
  virtual Result<WorkloadStatus> Observe(const WorkloadRef& w) = 0;
  // Every running instance of the workload, one entry per instance, with the image it runs
  // (expand/contract: contract migrations wait until none runs the old image). Default: what
  // Observe sees, unnamed. Podman: every running container of the compose service, also ones
  // started by hand or by `--scale`, not only the one Rollout manages. Kubernetes: every pod the
  // workload's selector selects that has not terminated (an old ReplicaSet's pod still running,
  // or being deleted and not yet stopped, counts), whatever the rollout status says.
  virtual Result<std::vector<RunningInstance>> RunningInstances(const WorkloadRef& w) {
    SU_ASSIGN_OR_RETURN(WorkloadStatus s, Observe(w));
    if (!s.running) return std::vector<RunningInstance>{};
    return std::vector<RunningInstance>{{s.image, ""}};
  }
  // Last lines of the workload's logs, for failure reports.
  virtual Result<std::string> Logs(const WorkloadRef& w, int lines) = 0;
  // Pre-flight of a bump to target, run before the first change of an upgrade: the edit of the
  // declaration is done in memory only (read, edit, re-read as the runtime's tools would) and the
  // target image is looked up; with fetch, an image that is not present is pulled. Changes no
  // declaration and no workload.
  // Errors: kInvalidArgument when the declaration cannot be changed to target (the message says
  // why and what to do); kNotFound when fetch is set and the image is neither present nor pullable
  // (the message carries the pull's last lines); kUnavailable when the runtime cannot be asked.
  virtual Result<BumpPreflight> PreflightBump(const WorkloadRef& w, const std::string& target, bool fetch) = 0;

  // ---- Holding a rollout (GitOps bumped first); optional, the defaults hold nothing ----
  // When the workload already declares the target image while migrations are pending (a GitOps sync
  // or a person changed it first), the reconciler holds the rollout while it migrates, then gives
  // the setting back. A runtime that starts nothing on its own (Podman: only Rollout starts a
  // container) has nothing to hold.
  virtual bool CanHoldRollout(const WorkloadRef& w) {
    (void)w;
    return false;
  }
  // The workload's rollout setting now, as a token for ReleaseRollout (e.g. "paused=false",
  // "partition=2", "partition=" when unset). Read before HoldRollout, and kept by the caller.
  virtual Result<std::string> RolloutSetting(const WorkloadRef& w) {
    (void)w;
    return std::string();
  }
  // Holds the rollout of the declared template: no pod starts from it until released. Idempotent.
  virtual Status HoldRollout(const WorkloadRef& w) {
    (void)w;
    return Status::Ok();
  }
  // Gives back `setting` (a RolloutSetting token): the rollout continues as the user had it.
  // Idempotent.
  virtual Status ReleaseRollout(const WorkloadRef& w, const std::string& setting) {
    (void)w;
    (void)setting;
    return Status::Ok();
  }
};

}  // namespace su
