// FakeWorkloadRuntime: a WorkloadRuntime over one in-memory workload (declared image, running
// image), for reconciler tests. Rollout makes the running image the declared one, as
// `podman-compose up -d` would. Errors are scripted per call; every change is counted.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/runtimes/runtime.h"

namespace su::testing {

class FakeWorkloadRuntime : public WorkloadRuntime {
 public:
  std::string declared;
  std::string running_image;
  bool running = true;
  std::deque<Status> declared_errors;  // front consumed per DeclaredImage call
  std::deque<Status> set_errors;       // per SetDeclaredImage call
  std::deque<Status> rollout_errors;   // per Rollout call
  // PreflightBump: errors per call (front first); images in local storage; images a pull can get
  // (anything else fails to pull with kNotFound); the note it reports.
  std::deque<Status> preflight_errors;
  std::vector<std::string> present_images;
  std::vector<std::string> pullable_images;
  bool all_images_present = true;     // false: only present_images are
  std::string preflight_note;
  std::vector<std::string> preflight_calls;  // "<target>" or "<target> fetch"
  std::vector<std::string> pulls;
  std::vector<std::string>* journal = nullptr;  // "set-image:<img>", "rollout", "pull:<img>" appended when set
  std::function<void()> on_rollout;   // runs at the start of each Rollout (to observe state)

  std::vector<std::string> set_calls;  // images passed to SetDeclaredImage
  int rollouts = 0;
  std::vector<std::string> rollout_images;  // images passed to Rollout
  int observes = 0;

  Result<std::string> DeclaredImage(const WorkloadRef&) override {
    if (Status s = Pop(declared_errors); !s.ok()) return s;
    return declared;
  }
  // Compare-and-swap like the real runtimes: kConflict when declared is neither from nor image.
  Status SetDeclaredImage(const WorkloadRef&, const std::string& from, const std::string& image) override {
    set_calls.push_back(image);
    if (journal) journal->push_back("set-image:" + image);
    if (Status s = Pop(set_errors); !s.ok()) return s;
    if (declared == image) return Status::Ok();
    if (!from.empty() && declared != from) {
      return Status::Error(Code::kConflict, "declares " + declared + ", not " + from + " (edited since read)");
    }
    declared = image;
    return Status::Ok();
  }
  // kConflict, starting nothing, when the declaration is not image (as the compose runtime).
  Status Rollout(const WorkloadRef&, const std::string& image) override {
    ++rollouts;
    rollout_images.push_back(image);
    if (on_rollout) on_rollout();
    if (journal) journal->push_back("rollout");
    if (Status s = Pop(rollout_errors); !s.ok()) return s;
    if (!SameImage(declared, image)) {
      return Status::Error(Code::kConflict, "declares " + declared + ", not " + image + "; nothing started");
    }
    if (held) return Status::Ok();  // accepted, but nothing rolls out while held
    running_image = declared;
    running = true;
    return Status::Ok();
  }
  Result<WorkloadStatus> Observe(const WorkloadRef&) override {
    ++observes;
    WorkloadStatus ws;
    ws.exists = true;
    ws.running = running;
    ws.image = running_image;
    ws.state = running ? "running" : "exited";
    return ws;
  }
  Result<std::string> Logs(const WorkloadRef&, int) override { return std::string("fake log line\n"); }

  // Instances besides the one Observe reports (a container of the service started by hand, a
  // scaled copy), by image: RunningInstances lists them after it, unnamed.
  std::vector<std::string> other_instances;
  Result<std::vector<RunningInstance>> RunningInstances(const WorkloadRef& w) override {
    SU_ASSIGN_OR_RETURN(WorkloadStatus s, Observe(w));
    std::vector<RunningInstance> out;
    if (s.running) out.push_back({s.image, ""});
    for (const auto& image : other_instances) out.push_back({image, ""});
    out.insert(out.end(), named_instances.begin(), named_instances.end());
    return out;
  }
  std::vector<RunningInstance> named_instances;  // listed last (pods, containers with a name)

  // Holding a rollout (GitOps bumped first), when can_hold: `paused` is the setting the workload
  // has now ("paused=<held>", as a Deployment); HoldRollout pauses, ReleaseRollout restores the
  // token it is given. While held, Rollout starts nothing (a paused Deployment rolls nothing out).
  bool can_hold = false;
  bool held = false;
  int setting_reads = 0;
  std::deque<Status> hold_errors;              // per HoldRollout call
  std::vector<std::string> release_calls;      // settings passed to ReleaseRollout
  std::function<void()> on_hold;               // runs at the start of each HoldRollout
  bool CanHoldRollout(const WorkloadRef&) override { return can_hold; }
  Result<std::string> RolloutSetting(const WorkloadRef&) override {
    ++setting_reads;
    return std::string(held ? "paused=true" : "paused=false");
  }
  Status HoldRollout(const WorkloadRef&) override {
    if (on_hold) on_hold();
    if (journal) journal->push_back("hold");
    if (Status s = Pop(hold_errors); !s.ok()) return s;
    held = true;
    return Status::Ok();
  }
  Status ReleaseRollout(const WorkloadRef&, const std::string& setting) override {
    release_calls.push_back(setting);
    if (journal) journal->push_back("release:" + setting);
    held = setting == "paused=true";
    return Status::Ok();
  }
  Result<BumpPreflight> PreflightBump(const WorkloadRef&, const std::string& target, bool fetch) override {
    preflight_calls.push_back(target + (fetch ? " fetch" : ""));
    if (Status s = Pop(preflight_errors); !s.ok()) return s;
    BumpPreflight p{declared, target, target, preflight_note, Has(present_images, target), false};
    if (all_images_present) p.image_present = true;
    if (p.image_present || !fetch) return p;
    if (!Has(pullable_images, target)) {
      return Status::Error(Code::kNotFound, "image " + target + " is not present and could not be pulled: "
                                            "manifest unknown");
    }
    pulls.push_back(target);
    if (journal) journal->push_back("pull:" + target);  // only a pull changes anything
    present_images.push_back(target);
    p.image_present = p.pulled = true;
    return p;
  }

 private:
  static bool Has(const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v) {
      if (x == s) return true;
    }
    return false;
  }
  static Status Pop(std::deque<Status>& q) {
    if (q.empty()) return Status::Ok();
    Status s = q.front();
    q.pop_front();
    return s;
  }
};

}  // namespace su::testing
