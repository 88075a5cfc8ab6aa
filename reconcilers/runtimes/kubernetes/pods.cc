// The pods of a workload's current template, their problems and logs (see pods.h).
#include "reconcilers/runtimes/kubernetes/pods.h"

#include <algorithm>
#include <set>

#include "reconcilers/runtimes/image_ref.h"

namespace su::kube_runtime {

namespace {

const std::set<std::string> kStuck = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull",
                                      "CreateContainerConfigError", "CreateContainerError"};

// The image `container` of pod runs (its spec).
std::string PodImage(const value& pod, const std::string& container) {
  const value* cs = At(pod, {"spec", "containers"});
  if (!cs || !cs->is_array()) return "";
  for (const auto& c : cs->as_array()) {
    if (Str(c, {"name"}) == container) return Str(c, {"image"});
  }
  return "";
}

}  // namespace

Result<std::string> SelectorString(const value& workload) {
  std::string out;
  auto add = [&out](const std::string& s) { out += (out.empty() ? "" : ",") + s; };
  if (const value* ml = At(workload, {"spec", "selector", "matchLabels"}); ml && ml->is_object()) {
    for (const auto& [k, v] : ml->as_object()) add(k + "=" + (v.is_string() ? v.as_string() : v.serialize()));
  }
  if (const value* me = At(workload, {"spec", "selector", "matchExpressions"}); me && me->is_array()) {
    for (const auto& e : me->as_array()) {
      std::string key = Str(e, {"key"}), op = Str(e, {"operator"});
      std::string vals;
      if (const value* vs = At(e, {"values"}); vs && vs->is_array()) {
        for (const auto& v : vs->as_array()) vals += (vals.empty() ? "" : ",") + (v.is_string() ? v.as_string() : "");
      }
      if (op == "In") add(key + " in (" + vals + ")");
      else if (op == "NotIn") add(key + " notin (" + vals + ")");
      else if (op == "Exists") add(key);
      else if (op == "DoesNotExist") add("!" + key);
    }
  }
  if (out.empty()) return Status::Invalid("the workload has no spec.selector to find its pods by");
  return out;
}

std::string DescribeProblems(const std::vector<PodProblem>& problems, int max) {
  std::string out;
  int n = 0;
  for (const auto& p : problems) {
    if (n++ == max) {
      out += "; and " + std::to_string(problems.size() - max) + " more";
      break;
    }
    out += (out.empty() ? "" : "; ") + std::string("pod ") + p.pod + " (container " + p.container + "): " + p.reason +
           (p.message.empty() ? "" : " (" + p.message + ")") +
           (p.restarts > 0 ? ", " + std::to_string(p.restarts) + " restarts" : "");
  }
  return out;
}

Result<std::vector<value>> PodLister::Pods(const value& workload, const std::string& ns, const std::string& container,
                                           const std::string& image) {
  SU_ASSIGN_OR_RETURN(std::string selector, SelectorString(workload));
  kube::ListOptions lo;
  lo.label_selector = selector;
  auto list = api_->List(kube::ResourcePath{kPods, ns, "", ""}, lo);
  if (!list.ok()) return list.status().WithContext("listing the pods of the workload");
  std::vector<value> out;
  for (const auto& item : list->items) {
    auto pod = Parse(item, "pod");
    if (!pod.ok()) continue;
    if (!image.empty() && !SameImage(PodImage(*pod, container), image)) continue;  // an old template's pod
    out.push_back(std::move(pod).value());
  }
  // Newest first: the pods a rollout just created are the ones worth showing.
  std::sort(out.begin(), out.end(), [](const value& a, const value& b) {
    return Str(a, {"metadata", "creationTimestamp"}) > Str(b, {"metadata", "creationTimestamp"});
  });
  return out;
}

Result<std::vector<PodProblem>> PodLister::Problems(const value& workload, const std::string& ns,
                                                    const std::string& container, const std::string& image) {
  SU_ASSIGN_OR_RETURN(std::vector<value> pods, Pods(workload, ns, container, image));
  std::vector<PodProblem> out;
  for (const auto& pod : pods) {
    for (const char* field : {"initContainerStatuses", "containerStatuses"}) {
      const value* cs = At(pod, {"status", field});
      if (!cs || !cs->is_array()) continue;
      for (const auto& c : cs->as_array()) {
        std::string reason = Str(c, {"state", "waiting", "reason"});
        if (!kStuck.count(reason)) continue;
        PodProblem p;
        p.pod = Str(pod, {"metadata", "name"});
        p.container = Str(c, {"name"});
        p.reason = reason;
        p.message = Str(c, {"state", "waiting", "message"});
        p.restarts = static_cast<int>(Int(c, {"restartCount"}));
        Clock::TimePoint created;
        if (ParseTime(Str(pod, {"metadata", "creationTimestamp"}), &created)) {
          p.age = std::chrono::duration_cast<std::chrono::seconds>(clock_->Now() - created);
        }
        out.push_back(std::move(p));
      }
    }
  }
  return out;
}

Result<std::vector<PodLister::LivePod>> PodLister::Live(const value& workload, const std::string& ns,
                                                         const std::string& container) {
  SU_ASSIGN_OR_RETURN(std::vector<value> pods, Pods(workload, ns, container, ""));
  std::vector<LivePod> out;
  // Pods() sorts newest first; the oldest (the old ReplicaSet's) are the ones worth naming first.
  for (auto it = pods.rbegin(); it != pods.rend(); ++it) {
    const std::string phase = Str(*it, {"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed") continue;  // terminated: runs nothing
    std::string image = PodImage(*it, container);
    out.push_back({Str(*it, {"metadata", "name"}), image.empty() ? "(no container " + container + ")" : image});
  }
  return out;
}

std::string PodLister::PodLog(const std::string& ns, const std::string& pod, const std::string& container, int lines,
                              bool previous) {
  kube::ResourcePath log{kPods, ns, pod, "log"};
  log.query = "container=" + kube::PercentEncode(container) + "&tailLines=" + std::to_string(lines) +
              (previous ? "&previous=true" : "");
  auto r = api_->Get(log);
  if (!r.ok()) return "(no logs: " + r.error().message + ")\n";
  std::string text = *r;
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text.empty() ? "(no log lines)\n" : text;
}

Result<std::string> PodLister::Logs(const value& workload, const std::string& ns, const std::string& container,
                                    const std::string& image, int lines, int max) {
  SU_ASSIGN_OR_RETURN(std::vector<PodProblem> problems, Problems(workload, ns, container, image));
  std::string out;
  int n = 0;
  for (const auto& p : problems) {
    if (n++ == max) break;
    // A crash-looping container's useful lines are those of the run that crashed.
    bool previous = p.reason == "CrashLoopBackOff";
    std::string text = PodLog(ns, p.pod, p.container, lines, previous);
    if (previous && text.rfind("(no logs", 0) == 0) text = PodLog(ns, p.pod, p.container, lines, false);
    out += "--- pod " + p.pod + " (container " + p.container + "):\n" + text;
  }
  if (!out.empty()) return out;
  SU_ASSIGN_OR_RETURN(std::vector<value> pods, Pods(workload, ns, container, image));
  if (pods.empty()) return std::string("(no pod runs the current template yet)\n");
  std::string pod = Str(pods.front(), {"metadata", "name"});
  return "--- pod " + pod + " (container " + container + "):\n" + PodLog(ns, pod, container, lines, false);
}

}  // namespace su::kube_runtime
