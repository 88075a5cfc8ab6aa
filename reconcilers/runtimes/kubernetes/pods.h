// Internal to runtimes/kubernetes: the pods of a workload (by its spec.selector) that run its
// current template (the named container's image), the ones that cannot start (waiting in
// CrashLoopBackOff, ImagePullBackOff, ErrImagePull, CreateContainerConfigError,
// CreateContainerError, as kubectl's rollout status warns), and their last log lines (pods/log);
// and every pod not terminated, whatever it runs (expand/contract).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "kube/api.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/runtimes/kubernetes/workload_json.h"

namespace su::kube_runtime {

inline const kube::GroupVersionResource kPods{"", "v1", "pods", true};

struct PodProblem {
  std::string pod;
  std::string container;
  std::string reason;   // CrashLoopBackOff, ImagePullBackOff, ...
  std::string message;  // the kubelet's message
  int restarts = 0;
  std::chrono::seconds age{0};  // since the pod was created
};

// "k=v,k2 in (a,b),!k3" from a LabelSelector; kInvalidArgument when it selects nothing usable.
Result<std::string> SelectorString(const value& workload);

// "pod x (container c): CrashLoopBackOff (message), 4 restarts; ..." (at most max pods, "+N more").
std::string DescribeProblems(const std::vector<PodProblem>& problems, int max);

class PodLister {
 public:
  PodLister(kube::KubeApi* api, Clock* clock) : api_(api), clock_(clock) {}
  // Pods of workload (in ns) whose `container` runs `image`, that wait for one of the reasons above.
  Result<std::vector<PodProblem>> Problems(const value& workload, const std::string& ns, const std::string& container,
                                           const std::string& image);
  // Every pod the workload's selector selects that has not terminated (status.phase neither
  // Succeeded nor Failed: Pending, Running, Unknown, also one with a deletionTimestamp whose
  // containers have not stopped yet), with the image its `container` declares (spec; "(no
  // container C)" when it has none), oldest first. Expand/contract's RunningInstances.
  struct LivePod {
    std::string pod;
    std::string image;
  };
  Result<std::vector<LivePod>> Live(const value& workload, const std::string& ns, const std::string& container);
  // The last `lines` log lines of up to max problem pods (a crash-looping container's previous
  // run), else of the newest pod running image; each headed "--- pod NAME (container C):".
  Result<std::string> Logs(const value& workload, const std::string& ns, const std::string& container,
                           const std::string& image, int lines, int max);

 private:
  Result<std::vector<value>> Pods(const value& workload, const std::string& ns, const std::string& container,
                                  const std::string& image);
  std::string PodLog(const std::string& ns, const std::string& pod, const std::string& container, int lines,
                     bool previous);

  kube::KubeApi* api_;
  Clock* clock_;
};

}  // namespace su::kube_runtime
