// SeedStatus and ReportInvalidSpec (see status_seed.h).
#include "reconcilers/schemaupgrade/status_seed.h"

#include "reconcilers/base/secrets.h"

namespace su {

ResourceStatus PendingStatus(const std::string& key, long long generation, Clock::TimePoint now) {
  ResourceStatus s;
  s.resource = key;
  s.observed_generation = generation;
  s.phase = Phase::kPending;
  s.message = "reconciling generation " + std::to_string(generation);
  SetCondition(&s, condition::kReady, condition_status::kFalse, reasons::kPending, s.message, generation, now);
  SetCondition(&s, condition::kReconciling, condition_status::kTrue, reasons::kPending, s.message, generation, now);
  SetCondition(&s, condition::kStalled, condition_status::kFalse, reasons::kPending, "", generation, now);
  s.updated_at = FormatTime(now);
  return s;
}

Result<bool> SeedStatus(StatusStore* store, const std::string& key, long long generation, Clock* clock) {
  SU_ASSIGN_OR_RETURN(auto stored, store->Load(key));
  if (stored.has_value()) return false;
  SU_RETURN_IF_ERROR(store->Save(key, PendingStatus(key, generation, clock->Now())));
  return true;
}

Result<bool> ReportInvalidSpec(StatusStore* store, const std::string& key, long long generation,
                               const Status& why, Clock* clock) {
  auto stored = store->Load(key);
  ResourceStatus s;
  if (stored.ok() && stored->has_value()) s = **stored;  // an unreadable status is replaced
  const std::string message = Scrub(why.message()) +
                              "; fix the object (kubectl edit) or the manifest: nothing runs until it is valid";
  const Condition* stalled = FindCondition(s, condition::kStalled);
  if (s.phase == Phase::kFailed && s.observed_generation == generation && s.last_error == message && stalled &&
      stalled->status == condition_status::kTrue && stalled->reason == kReasonInvalidSpec) {
    return false;
  }
  ResourceStatus fresh;  // a new (invalid) spec: start over, keeping what describes the world
  fresh.conditions = s.conditions;
  fresh.current_version = s.current_version;
  fresh.image = s.image;
  fresh.observed_at = s.observed_at;
  fresh.resource = key;
  fresh.observed_generation = generation;
  fresh.spec_hash = "invalid";  // never a SpecToken: the fixed spec starts afresh
  fresh.phase = Phase::kFailed;
  fresh.last_error = message;
  fresh.message = message;
  auto now = clock->Now();
  SetCondition(&fresh, condition::kReady, condition_status::kFalse, kReasonInvalidSpec, message, generation, now);
  SetCondition(&fresh, condition::kReconciling, condition_status::kFalse, kReasonInvalidSpec, message, generation, now);
  SetCondition(&fresh, condition::kStalled, condition_status::kTrue, kReasonInvalidSpec, message, generation, now);
  fresh.updated_at = FormatTime(now);
  SU_RETURN_IF_ERROR(store->Save(key, fresh));
  return true;
}

}  // namespace su
