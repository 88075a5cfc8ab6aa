// Pass: pre-flight. Everything that can refuse an upgrade is checked before its first change (the
// backup, the first migration, the compose edit): a downgrade, a digest pin the bump would drop,
// a workload edit that cannot be made (done in memory by the runtime), a target image that is
// neither present nor pullable. A refusal leaves the database and the workload untouched and is
// shown by `plan` before anything runs (see pass.h).
#include "reconcilers/schemaupgrade/pass.h"

#include "reconcilers/runtimes/image_ref.h"

namespace su::reconcile_internal {

namespace {
bool HasDigest(const std::string& image) { return !ParseImageRef(image).digest.empty(); }
}  // namespace

StepOutcome Pass::Preflight() {
  bool bump = d_.workloads && !su_.workload.kind.empty() && !target_image_.empty() &&
              !SameImage(declared_image_, target_image_);
  std::string reason = reasons::kBumpRefused;
  Code code = Code::kInvalidArgument;
  if (ContractBeforeExpand(plan_.state.pending)) {
    reason = reasons::kContractOrder;
  } else if (plan_.downgrade && !su_.policy.allow_downgrade) {
    reason = reasons::kDowngradeRefused;
    code = Code::kGated;
  } else if (HasDigest(declared_image_) && !HasDigest(target_image_)) {
    reason = reasons::kDigestPinned;
  } else if (plan_.path_skip) {
    reason = reasons::kUpgradePathRequired;
    code = Code::kGated;
    // Under stepThrough the pass was aimed at the next release: a jump here means the workload's
    // version changed after that choice. Nothing changed; the next pass chooses again.
    if (su_.policy.step_through) {
      return StepOutcome::RetryAfter(Status::Error(Code::kConflict, plan_.refused + "; nothing was changed"),
                                     reasons::kWorkloadChanged);
    }
  } else if (plan_.rollback_impossible) {
    reason = reasons::kRollbackImpossible;
    code = Code::kGated;
  }
  if (bump && plan_.refused.empty()) {
    auto pf = d_.workloads->PreflightBump(su_.workload, target_image_, /*fetch=*/false);
    if (!pf.ok() && Transient(pf.status())) return StepOutcome::RetryAfter(pf.status(), reasons::kWorkloadUnavailable);
    if (!pf.ok()) {
      plan_.refused = pf.status().message();
    } else {
      bump_checked_ = true;
      image_present_ = pf->image_present;
      if (!pf->note.empty()) plan_.preflight.push_back(pf->note);
      plan_.preflight.push_back(pf->image_present
                                    ? "image " + target_image_ + " is present"
                                    : "image " + target_image_ + " is not present: apply pulls it before the backup "
                                      "and the first migration, and changes nothing if it cannot");
    }
  }
  if (plan_.downgrade && su_.policy.allow_downgrade && !plan_.steps.empty()) {
    plan_.preflight.push_back("downgrade allowed by spec.policy.allowDowngrade: the database stays ahead of " +
                              su_.target_version);
  }
  if (path_.stepping) {
    plan_.path.clear();
    Plan::PathStep cur{path_.step.version, target_image_, path_.step.migrations_up_to, {}, true};
    for (const auto& m : plan_.state.pending) cur.migrations.push_back(m.version + " " + m.name);
    plan_.path.push_back(cur);
    for (const auto& v : path_.after) {
      std::string up_to;
      for (const auto& e : su_.upgrade_path) {
        if (e.version == v) up_to = e.migrations_up_to;
      }
      plan_.path.push_back({v, RetagImage(target_image_, v), up_to, {}, false});
    }
    std::string rest;
    for (const auto& v : path_.after) rest += " -> " + v;
    plan_.preflight.push_back("upgrade path (policy.stepThrough): this step goes " + path_.running + " -> " +
                              path_.step.version + (path_.step.migrations_up_to.empty()
                                                        ? ""
                                                        : " (migrations up to " + path_.step.migrations_up_to + ")") +
                              "; then" + rest + ", each migrated, bumped and verified in turn");
  }
  out_.plan = plan_;
  if (plan_.refused.empty()) return StepOutcome::Succeeded();
  return StepOutcome::Failed(Status::Error(code, plan_.refused + "; nothing was changed"), reason);
}

StepOutcome Pass::FetchImage() {
  if (!bump_checked_ || image_present_) return StepOutcome::Succeeded();
  if (d_.cancelled && d_.cancelled()) return StepOutcome::RetryAfter(Status::Error(Code::kCancelled, "stopping"), reasons::kCancelled);
  SetPhase(Phase::kPlanning, "pulling image " + target_image_ + " before changing anything");
  auto pf = d_.workloads->PreflightBump(su_.workload, target_image_, /*fetch=*/true);
  if (!pf.ok()) {
    if (pf.status().code() == Code::kInvalidArgument) return StepOutcome::Failed(pf.status(), reasons::kBumpRefused);
    return ImageUnavailable(pf.status());
  }
  image_present_ = pf->image_present;
  if (pf->pulled) Event(event_type::kNormal, reasons::kImagePulled, "pulled " + target_image_);
  return StepOutcome::Succeeded();
}

StepOutcome Pass::ImageUnavailable(const Status& why) {
  // A registry that is down, or an image not pushed yet: nothing was touched, try again later.
  return StepOutcome::RetryAfter(Status::Error(Code::kUnavailable,
                             "target image " + target_image_ + " cannot be had: " + why.message() +
                                 "; nothing was changed (no backup, no migration, no edit). Push the image or fix "
                                 "spec.targetVersion / spec.image"),
               reasons::kImageUnavailable);
}

}  // namespace su::reconcile_internal
