// VerifyRollout: the reconciler's Verifier for rollouts that run on their own (see kube_workload.h).
#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/runtimes/kubernetes/kube_workload.h"

namespace su {

namespace {
constexpr size_t kMaxLogBytes = 8192;
}  // namespace

Status VerifyRollout(WorkloadRuntime* runtime, const WorkloadRef& w, const std::string& image,
                     std::chrono::milliseconds settle, Clock* clock, const RolloutVerifyOptions& options) {
  const std::string what = w.kind + " " + (w.ns.empty() ? "" : w.ns + "/") + w.name;
  const auto start = clock->MonotonicNow();
  const auto bound = std::max(options.per_call, settle + options.poll_interval);
  bool complete = false;
  Clock::MonoTimePoint complete_since{};
  for (;;) {
    auto ws = runtime->Observe(w);
    if (!ws.ok()) return ws.status();
    const auto now = clock->MonotonicNow();
    if (!ws->exists) {
      return Status::Failed(what + " does not exist any more (deleted during the rollout of " + image +
                            "); recreate it, then retry (a new value in the olympus.io/retry annotation)");
    }
    if (!ws->image.empty() && !SameImage(ws->image, image)) {
      return Status::Error(Code::kConflict, what + " now declares " + ws->image + ", not " + image +
                                                " (changed during the rollout by someone else)");
    }
    if (ws->rollout == "failed") {
      std::string logs;
      if (auto l = runtime->Logs(w, options.log_lines); l.ok() && !l->empty()) {
        // Status messages are bounded (a condition's message: 32 KiB): keep the end, where the crash is.
        std::string text = *l;
        if (text.size() > kMaxLogBytes) text = "...\n" + text.substr(text.size() - kMaxLogBytes);
        logs = "\nlast log lines:\n" + text;
      }
      return Status::Failed("the rollout of " + image + " to " + what + " failed: " + ws->detail + logs +
                            "\nWhat to do: look at the pods (kubectl describe pod, kubectl logs --previous), fix the "
                            "image or its configuration, then set a new targetVersion or retry (olympus.io/retry)");
    }
    if (ws->running) {
      if (!complete) complete_since = now;
      complete = true;
      if (now - complete_since >= settle) return Status::Ok();
    } else {
      complete = false;  // it went back (a pod crashed after it became available): start over
      if (now - start >= bound) {
        return Status::Error(Code::kGated, "rollout of " + image + " to " + what + " in progress: " +
                                               (ws->detail.empty() ? ws->state : ws->detail));
      }
    }
    clock->SleepFor(options.poll_interval);
  }
}

}  // namespace su
