// Pass: the contract phase of an expand/contract upgrade (see pass.h, docs/expand-contract.md).
// Runs after Verify: the old version must be gone, the soak over and the contract approved before
// the contract migrations run; each wait is a Waiting outcome requeued when it can end, never a
// loop inside the pass.
#include "reconcilers/schemaupgrade/pass.h"

#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/runtimes/image_ref.h"

namespace su::reconcile_internal {

Result<std::string> Pass::OldInstances() {
  if (!d_.workloads || su_.workload.kind.empty() || target_image_.empty()) return std::string();
  SU_ASSIGN_OR_RETURN(std::vector<RunningInstance> instances, d_.workloads->RunningInstances(su_.workload));
  constexpr int kNamed = 5;  // instances named in the message
  std::string old, names;
  int n = 0, named = 0;
  for (const auto& i : instances) {
    if (SameImage(i.image, target_image_)) continue;
    ++n;
    if (old.find(i.image) == std::string::npos) old += (old.empty() ? "" : ", ") + i.image;
    if (i.name.empty()) continue;
    if (named++ < kNamed) names += (names.empty() ? "" : ", ") + i.name;
  }
  if (n == 0) return std::string();
  if (named > kNamed) names += " and " + std::to_string(named - kNamed) + " more";
  return std::to_string(n) + " instance(s) of " + su_.workload.name + " still run " + old +
         (names.empty() ? "" : " (" + names + ")");
}

StepOutcome Pass::Contract() {
  if (!HasContractSteps(plan_.state.pending)) return StepOutcome::Succeeded();
  const size_t expand = ExpandPrefix(plan_.state.pending);
  const size_t contract = plan_.state.pending.size() - expand;
  const std::string steps = std::to_string(contract) + " contract migration(s) " +
                            plan_.state.pending[expand].version +
                            (contract > 1 ? " .. " + plan_.state.pending.back().version : "");
  // 1. No instance of the old version remains: a contract step may drop what it still reads.
  auto old = OldInstances();
  if (!old.ok()) {
    if (Transient(old.status())) return StepOutcome::RetryAfter(old.status(), reasons::kWorkloadUnavailable);
    return StepOutcome::Failed(old.status(), reasons::kWorkloadInvalid);
  }
  if (!old->empty()) {
    return StepOutcome::Waiting(reasons::kOldVersionRunning,
                                *old + ": the " + steps + " wait until every instance runs " + target_image_ +
                                    " (stop the old ones); nothing was changed",
                                kRolloutRecheck);
  }
  // 2. The soak: from the verified bump (Verify set it), or from now when there is no workload.
  auto now = d_.clock->Now();
  if (st_.contract_after.empty()) {
    st_.contract_after = FormatTime(now + su_.policy.contract_after);
    Save();
  }
  Clock::TimePoint at;
  if (!ParseTime(st_.contract_after, &at)) {
    // Only this controller writes it; an unreadable value starts the soak again rather than skip it.
    st_.contract_after = FormatTime(now + su_.policy.contract_after);
    at = now + su_.policy.contract_after;
    Save();
  }
  if (at > now) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
    return StepOutcome::Waiting(reasons::kContractSoaking,
                                "soaking: " + su_.service + " runs " + (target_image_.empty() ? su_.target_version : target_image_) +
                                    "; the " + steps + " run at " + st_.contract_after +
                                    " (policy.contract.after " + FormatDuration(su_.policy.contract_after) +
                                    " after the verified bump)",
                                std::max(wait, std::chrono::milliseconds(1000)));
  }
  // 3. Their own approval.
  if (su_.policy.contract_approval_required && su_.policy.contract_approved_hash != plan_.contract_hash) {
    std::string why = su_.policy.contract_approved_hash.empty()
                          ? "the " + steps + " need approval (contract hash " + plan_.contract_hash + ")"
                          : "the approved contract hash " + su_.policy.contract_approved_hash +
                                " is not the current one " + plan_.contract_hash + " (the contract migrations changed)";
    return StepOutcome::Waiting(reasons::kAwaitingContractApproval,
                                why + ": review `schema-upgrade plan`, then set the annotation "
                                      "olympus.io/approve-contract: " + plan_.contract_hash +
                                    " (or spec.policy.contract.planHash); the expand phase is done and " +
                                    su_.service + " runs the new version meanwhile",
                                std::chrono::milliseconds(0));
  }
  // 4. Under the migration lock, observed again (Lock(): a changed plan goes through pre-flight
  // and the gates again, the window included), then through Migrate() like any migration.
  if (d_.cancelled && d_.cancelled()) return StepOutcome::RetryAfter(Status::Error(Code::kCancelled, "stopping"), reasons::kCancelled);
  if (StepOutcome o = Lock(); !o.ok()) return o;
  if (!HasContractSteps(plan_.state.pending)) {
    // Someone else ran them while this pass waited for the lock (or the files changed): the
    // next pass plans from what is there now.
    lock_.reset();
    return plan_.state.pending.empty() ? StepOutcome::Succeeded()
                                       : StepOutcome::Waiting(reasons::kPlanChanged,
                                                              "the pending migrations changed before the contract "
                                                              "phase; planning again",
                                                              std::chrono::milliseconds(1000));
  }
  contract_run_ = true;
  StepOutcome o = Migrate();
  contract_run_ = false;
  lock_.reset();
  if (o.ok()) {
    LogInfo("contract.applied", {{"resource", su_.Key()}, {"migrations", std::to_string(contract)}});
  }
  return o;
}

}  // namespace su::reconcile_internal
