// Status written by the controller outside a reconcile pass:
//  - SeedStatus: a resource seen for the first time gets a Pending status at once (Reconciling=True,
//    Ready=False, Stalled=False, observedGeneration), so Flux, Argo CD and `kubectl wait` never see a
//    resource without status while its first pass connects to the database.
//  - ReportInvalidSpec: a resource that fails our validation (it passed the CRD schema: an older CRD,
//    a rule the schema cannot express) goes Failed with Stalled=True (reason InvalidSpec) and the
//    field's message; nothing runs for it. Rewritten only when the message or generation changes.
// Both keep what describes the world (current version, image, observedAt) from a stored status.
#pragma once

#include <string>

#include "api/conditions.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/base/result.h"
#include "reconcilers/schemaupgrade/status_store.h"

namespace su {

inline constexpr const char* kReasonInvalidSpec = reasons::kInvalidSpec;

// The Pending status of a resource seen for the first time.
ResourceStatus PendingStatus(const std::string& key, long long generation, Clock::TimePoint now);

// Writes the Pending status when nothing is stored for key. Returns whether it wrote.
Result<bool> SeedStatus(StatusStore* store, const std::string& key, long long generation, Clock* clock);

// Writes the InvalidSpec status for key unless the stored one already says exactly this. Returns
// whether it wrote (the caller raises a Warning event then). why: the validation error (scrubbed).
Result<bool> ReportInvalidSpec(StatusStore* store, const std::string& key, long long generation,
                               const Status& why, Clock* clock);

}  // namespace su
