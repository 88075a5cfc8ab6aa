// Pass: GitOps bumped first. When the workload already declares the target image while migrations
// are pending (a GitOps sync or a person changed it before the migrations ran), new pods would start
// against the old schema: the rollout is held (a Deployment paused, a StatefulSet partitioned) from
// before the gates (so also while an approval or a maintenance window keeps the migrations waiting)
// until nothing is pending, then the user's setting is given back (see pass.h).
// Crash safety: the setting is recorded in status.rolloutHold before the hold is made, so a pass
// killed between the two re-asserts the hold (idempotent) and a later pass releases it; a new spec
// keeps the record (LoadStatus).
#include "reconcilers/schemaupgrade/pass.h"

#include "reconcilers/base/crash_point.h"
#include "reconcilers/runtimes/image_ref.h"

namespace su::reconcile_internal {

namespace {
std::string HowHeld(const WorkloadRef& w) {
  return w.kind == "StatefulSet" ? "spec.updateStrategy.rollingUpdate.partition set to its replicas"
                                 : "spec.paused: true";
}
}  // namespace

StepOutcome Pass::HoldRollout() {
  // Only expand migrations keep the new version waiting: contract migrations run after it.
  if (!d_.workloads || su_.workload.kind.empty() || ExpandPrefix(plan_.state.pending) == 0) return StepOutcome::Succeeded();
  if (!d_.workloads->CanHoldRollout(su_.workload)) return StepOutcome::Succeeded();
  const bool bumped_first = !target_image_.empty() && SameImage(declared_image_, target_image_);
  if (!bumped_first && st_.rollout_hold.empty()) return StepOutcome::Succeeded();
  const std::string what = su_.workload.kind + " " + su_.workload.name;
  const bool already = !st_.rollout_hold.empty();
  if (!already) {
    auto setting = d_.workloads->RolloutSetting(su_.workload);
    if (!setting.ok()) {
      if (Transient(setting.status())) return StepOutcome::RetryAfter(setting.status(), reasons::kWorkloadUnavailable);
      return StepOutcome::Failed(setting.status(), reasons::kWorkloadInvalid);
    }
    if (setting->empty()) return StepOutcome::Succeeded();  // nothing rolls out by itself (OnDelete)
    st_.rollout_hold = *setting;
    SetPhase(Phase::kPlanning, what + " already declares " + target_image_ + " while " +
                                   std::to_string(plan_.state.pending.size()) +
                                   " migration(s) are pending: holding its rollout until they are applied");
    CrashPoint("before-hold-rollout");  // recorded, not held yet: the next pass holds it
  }
  if (hold_asserted_) return StepOutcome::Succeeded();  // held earlier in this pass
  Status s = d_.workloads->HoldRollout(su_.workload);
  if (!s.ok()) {
    if (Transient(s)) return StepOutcome::RetryAfter(s, reasons::kWorkloadUnavailable);
    return StepOutcome::Failed(s, reasons::kWorkloadInvalid);
  }
  hold_asserted_ = true;
  CrashPoint("after-hold-rollout");
  if (!already) {
    changed_ = true;
    Event(event_type::kNormal, reasons::kRolloutHeld,
          what + " already declares " + target_image_ + " (changed before its migrations ran, e.g. by a GitOps sync): "
                 "its rollout is held (" + HowHeld(su_.workload) + ") while " +
              std::to_string(plan_.state.pending.size()) + " migration(s) run; it resumes after them");
  }
  return StepOutcome::Succeeded();
}

StepOutcome Pass::ReleaseRollout() {
  if (st_.rollout_hold.empty() || !d_.workloads || su_.workload.kind.empty()) return StepOutcome::Succeeded();
  if (d_.cancelled && d_.cancelled()) return StepOutcome::RetryAfter(Status::Error(Code::kCancelled, "stopping"), reasons::kCancelled);
  const std::string what = su_.workload.kind + " " + su_.workload.name;
  CrashPoint("before-release-rollout");
  Status s = d_.workloads->ReleaseRollout(su_.workload, st_.rollout_hold);
  if (!s.ok()) {
    if (Transient(s)) return StepOutcome::RetryAfter(s, reasons::kWorkloadUnavailable);
    return StepOutcome::Failed(s, reasons::kWorkloadInvalid);
  }
  CrashPoint("after-release-rollout");
  const std::string was = st_.rollout_hold;
  st_.rollout_hold.clear();
  changed_ = true;  // the held rollout now runs: verify it
  Event(event_type::kNormal, reasons::kRolloutResumed,
        "migrations applied: the rollout of " + what + " to " + declared_image_ + " resumed (" +
            (was == "paused=true" ? std::string("it stays paused as it was before: resume it yourself")
                                  : "its setting restored: " + was) + ")");
  Save();
  return StepOutcome::Succeeded();
}

}  // namespace su::reconcile_internal
