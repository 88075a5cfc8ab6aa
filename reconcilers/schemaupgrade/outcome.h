// How a reconcile step, and a whole pass, ended: one of four kinds, said explicitly, so no caller
// decodes a Status code to learn whether a resource is waiting, retrying or failed
// (controller-runtime's Result{RequeueAfter} / error, made a value).
//   succeeded   the step did its work (a pass: converged, or a dry run planned); go on
//   waiting     for something outside (approval, window, dry-run policy, a changed plan): not an
//               error; look again after `after`, or only when the spec changes (after == 0)
//   retry-after transient failure (database down, lock busy, image not pullable yet...): try again
//               after the policy's backoff; never runs onFailure
//   failed      permanent: onFailure ran, the resource stays Failed until its spec changes or a
//               forced run
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include "reconcilers/base/result.h"

namespace su {

enum class OutcomeKind { kSucceeded, kWaiting, kRetryAfter, kFailed };

// "succeeded", "waiting", "retrying", "failed": the reconcile_results_total{result} label values.
inline const char* OutcomeKindName(OutcomeKind k) {
  switch (k) {
    case OutcomeKind::kSucceeded: return "succeeded";
    case OutcomeKind::kWaiting: return "waiting";
    case OutcomeKind::kRetryAfter: return "retrying";
    case OutcomeKind::kFailed: return "failed";
  }
  return "unknown";
}

struct StepOutcome {
  OutcomeKind kind = OutcomeKind::kSucceeded;
  std::string reason;   // a reasons:: constant (api/conditions.h); empty when succeeded
  std::string message;  // waiting: what it waits for, a sentence a person can act on
  Status error;         // retry-after and failed: what went wrong
  // waiting: look again after this long (0: only when the spec changes). retry-after: the
  // backoff, filled in by the pass from policy.retries when it records the failure.
  std::chrono::milliseconds after{0};

  bool ok() const { return kind == OutcomeKind::kSucceeded; }

  static StepOutcome Succeeded() { return {}; }
  static StepOutcome Waiting(std::string reason, std::string message, std::chrono::milliseconds after) {
    StepOutcome o;
    o.kind = OutcomeKind::kWaiting;
    o.reason = std::move(reason);
    o.message = std::move(message);
    o.after = after;
    return o;
  }
  static StepOutcome RetryAfter(Status error, std::string reason) {
    StepOutcome o;
    o.kind = OutcomeKind::kRetryAfter;
    o.reason = std::move(reason);
    o.error = std::move(error);
    return o;
  }
  static StepOutcome Failed(Status error, std::string reason) {
    StepOutcome o;
    o.kind = OutcomeKind::kFailed;
    o.reason = std::move(reason);
    o.error = std::move(error);
    return o;
  }
};

}  // namespace su
