// Pass: the top-level sequence of steps and the status, condition, event and audit bookkeeping
// every step uses (see pass.h).
#include "reconcilers/schemaupgrade/pass.h"

#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/schemaupgrade/status_seed.h"

namespace su::reconcile_internal {

ReconcileOutcome Pass::Run() {
  if (StepOutcome o = LoadStatus(); !o.ok()) return Finish(o);
  // Stalled for good, or backing off: said in the outcome only (status already says it).
  if (StepOutcome o = CheckStalledOrBackoff(); !o.ok()) {
    Report(o);
    out_.status = st_;
    return out_;
  }
  for (auto step : {&Pass::CheckDependencyCycle, &Pass::Observe}) {
    if (StepOutcome o = (this->*step)(); !o.ok()) return Finish(o);
  }
  // An onFailure rollback of this spec was interrupted (status.undo): finish it, never plan the
  // upgrade again (pass_undo.cc). A dry run only plans.
  if (st_.undo && !opt_.dry_run) {
    if (StepOutcome o = ResumeUndo(); !o.ok()) return Finish(o);
  }
  if (StepOutcome o = Preflight(); !o.ok()) return Finish(o);
  // GitOps bumped first: the rollout is held before any gate (approval, maintenance window, drift,
  // lint) can keep the migrations waiting, for new pods must not meet the old schema meanwhile. A
  // dry run changes nothing, a hold included.
  if (!opt_.dry_run && !su_.policy.dry_run) {
    if (StepOutcome o = HoldRollout(); !o.ok()) return Finish(o);
  }
  if (StepOutcome o = Gates(); !o.ok()) {
    NamePathStep();  // the status says which step waits, as the approval message does
    return Finish(o);
  }
  if (opt_.dry_run) {
    if (opt_.rehearse) {
      if (StepOutcome o = Rehearse(); !o.ok()) return Finish(o);
    }
    out_.terminal = true;  // the caller only wanted the plan
    return Finish(StepOutcome::Succeeded());
  }
  if (path_.stepping) StartStep();
  NamePathStep();  // the target, once a release of the path was reached
  for (auto step : {&Pass::FetchImage, &Pass::Rehearse, &Pass::Lock, &Pass::HoldRollout, &Pass::Backup, &Pass::Migrate}) {
    if (StepOutcome o = (this->*step)(); !o.ok()) return Finish(o);  // recorded under the lock
  }
  lock_.reset();  // bump and verify need no migration lock
  for (auto step : {&Pass::ReleaseRollout, &Pass::Bump, &Pass::Verify, &Pass::Contract}) {
    if (StepOutcome o = (this->*step)(); !o.ok()) return Finish(o);
  }
  if (path_.stepping) {
    StepReached();
    return Finish(StepOutcome::Succeeded());
  }
  Succeed();
  return Finish(StepOutcome::Succeeded());
}

// ---- status bookkeeping ----
StepOutcome Pass::LoadStatus() {
  auto loaded = d_.store->Load(su_.Key());
  if (!loaded.ok()) {
    no_save_ = true;  // keep the unreadable file for the operator to inspect
    return StepOutcome::Failed(loaded.status(), reasons::kStatusUnreadable);
  }
  if (loaded->has_value()) {
    st_ = **loaded;
    stored_ = st_;
  } else if (opt_.seed_status && !opt_.dry_run) {
    // Seen for the first time: Pending at once, so nobody sees a resource without status while
    // this pass connects (status_seed.h).
    st_ = PendingStatus(su_.Key(), su_.generation, d_.clock->Now());
    Status s = d_.store->Save(su_.Key(), st_);
    if (s.ok()) {
      stored_ = st_;
    } else {
      LogError("status.save_failed", {{"resource", su_.Key()}, {"error", s.ToString()}});
      if (out_.save_error.ok()) out_.save_error = s;
    }
  }
  std::string token = SpecToken(su_);
  if (st_.spec_hash != token) {
    // A new spec (or an explicit retry): start over, keeping only what describes the world (the
    // last observed database version and image, with when they were observed: an outage must not
    // blank them). An earlier upgrade's backup is not carried over: restoreBackup must only ever
    // restore the backup taken for this upgrade (the audit log keeps the record of older ones).
    ResourceStatus fresh;
    fresh.conditions = st_.conditions;
    fresh.current_version = st_.current_version;
    fresh.image = st_.image;
    fresh.observed_at = st_.observed_at;
    fresh.rollout_hold = st_.rollout_hold;  // a rollout we hold is still held: it must be released
    st_ = fresh;
    st_.spec_hash = token;
  }
  const Condition* stalled = FindCondition(st_, condition::kStalled);
  if (opt_.force && (st_.phase == Phase::kFailed || (stalled && stalled->status == condition_status::kTrue))) {
    st_.attempts = 0;  // an explicit retry: a fresh budget
  }
  st_.resource = su_.Key();
  st_.observed_generation = su_.generation;
  st_.target_version = final_target_;  // a path step's pass too: the spec's target
  return StepOutcome::Succeeded();
}

void Pass::Save() {
  if (stored_ && SameStatusContent(st_, *stored_)) {
    // Nothing but the timestamps would change: no write (no fsync in folder mode, no PATCH in
    // Kubernetes mode). The timestamps keep their stored meaning: the last change.
    st_.updated_at = stored_->updated_at;
    st_.observed_at = stored_->observed_at;
    return;
  }
  st_.updated_at = FormatTime(d_.clock->Now());
  if (opt_.dry_run || no_save_) return;
  Status s = d_.store->Save(su_.Key(), st_);
  if (!s.ok()) {
    LogError("status.save_failed", {{"resource", su_.Key()}, {"error", s.ToString()}});
    if (out_.save_error.ok()) out_.save_error = s;
    return;
  }
  stored_ = st_;
}

void Pass::SetPhase(Phase p, const std::string& message) {
  st_.phase = p;
  st_.message = message;
  SetCondition(&st_, condition::kReconciling, condition_status::kTrue, PhaseName(p), message, su_.generation, d_.clock->Now());
  SetCondition(&st_, condition::kReady, condition_status::kFalse, PhaseName(p), message, su_.generation, d_.clock->Now());
  // A step is starting: not stalled (a Stalled=True of an earlier spec or of exhausted retries
  // would otherwise linger with an old observedGeneration until the pass ends).
  SetCondition(&st_, condition::kStalled, condition_status::kFalse, PhaseName(p), "", su_.generation, d_.clock->Now());
  Save();
  LogInfo("phase", {{"resource", su_.Key()}, {"phase", PhaseName(p)}, {"message", message}});
}

void Pass::Event(const std::string& type, const std::string& reason, const std::string& message) {
  if (d_.on_event && !opt_.dry_run) d_.on_event(su_.Key(), type, reason, Scrub(message));
}

ReconcileOutcome Pass::Finish(StepOutcome o) {
  // Only a pass that found the resource at its target and changed nothing leaves its observation
  // for the next one; a failure or a change means: read everything again.
  if (d_.observations && (o.kind != OutcomeKind::kSucceeded || changed_)) d_.observations->Drop(su_.Key());
  // After the outcome is recorded: a kill while observing loses only the shortcut.
  const bool observe_again = d_.observe_after_change && o.kind == OutcomeKind::kSucceeded && changed_ && !opt_.dry_run;
  Report(Record(std::move(o)));
  if (observe_again) ObserveAfterChange();
  out_.status = st_;
  return out_;
}

StepOutcome Pass::Record(StepOutcome o) {
  switch (o.kind) {
    case OutcomeKind::kSucceeded:
      break;
    case OutcomeKind::kWaiting:
      RecordWaiting(o);
      break;
    case OutcomeKind::kRetryAfter:
      o.after = RecordRetry(o);
      break;
    case OutcomeKind::kFailed:
      RecordFailed(o);
      break;
  }
  return o;
}

void Pass::Report(const StepOutcome& o) {
  out_.kind = o.kind;
  out_.reason = o.reason;
  switch (o.kind) {
    case OutcomeKind::kSucceeded:
      break;
    case OutcomeKind::kWaiting:
      out_.requeue_after = o.after;
      out_.terminal = o.after.count() == 0;
      // Callers switch on kind; the Status is for exit codes (a held-back apply exits 4).
      out_.result = Status::Error(Code::kGated, o.message);
      break;
    case OutcomeKind::kRetryAfter:
      out_.result = o.error;
      out_.requeue_after = o.after;
      break;
    case OutcomeKind::kFailed:
      out_.result = o.error;
      out_.terminal = true;
      break;
  }
}

// Permanent failure: stays Failed and Stalled until the spec changes or a forced run.
void Pass::RecordFailed(const StepOutcome& o) {
  const Status& s = o.error;
  const std::string& reason = o.reason;
  st_.phase = Phase::kFailed;
  st_.last_error = Scrub(s.ToString());
  st_.message = st_.last_error;
  st_.next_retry_at.clear();
  auto now = d_.clock->Now();
  SetCondition(&st_, condition::kReady, condition_status::kFalse, reason, st_.last_error, su_.generation, now);
  SetCondition(&st_, condition::kReconciling, condition_status::kFalse, reason, st_.last_error, su_.generation, now);
  SetCondition(&st_, condition::kStalled, condition_status::kTrue, reason, st_.last_error, su_.generation, now);
  Save();
  Event(event_type::kWarning, reason, st_.last_error);
  LogWarn("reconcile.failed", {{"resource", su_.Key()}, {"reason", reason}, {"error", st_.last_error}});
}

// Transient failure: back off and come back. The budget (retries.limit) only decides when the
// resource is reported Stalled (RetriesExhausted, for alerts); a transient cause goes away by
// itself, so the pass is tried again for ever, at most retries.max apart.
std::chrono::milliseconds Pass::RecordRetry(const StepOutcome& o) {
  const Status& s = o.error;
  const std::string& reason = o.reason;
  if (d_.cancelled && d_.cancelled()) {
    // A shutdown is not a failure of this resource: no attempt is spent, the next start resumes.
    st_.message = "stopped by shutdown during " + std::string(PhaseName(st_.phase)) + "; resumes on the next start";
    SetCondition(&st_, condition::kReconciling, condition_status::kTrue, reasons::kInterrupted, st_.message, su_.generation, d_.clock->Now());
    Save();
    LogInfo("reconcile.interrupted", {{"resource", su_.Key()}, {"phase", PhaseName(st_.phase)}});
    return std::chrono::milliseconds(0);
  }
  st_.attempts++;
  st_.last_error = Scrub(s.ToString());
  st_.failure_action.clear();  // onFailure acts on permanent failures only; an earlier one's action is history
  const int limit = su_.policy.retries.limit;
  const bool exhausted = st_.attempts > limit;
  // Succeeded at its target when last observed (the spec has not changed since: LoadStatus starts
  // a new spec as Pending): it stays Succeeded, its readiness is unknown until observed again.
  const bool at_target = st_.phase == Phase::kSucceeded;
  if (st_.phase == Phase::kFailed) st_.phase = Phase::kPending;  // it is not failed while it retries
  auto backoff = BackoffFor(su_.policy.retries, st_.attempts);
  auto now = d_.clock->Now();
  st_.next_retry_at = FormatTime(now + backoff);
  std::string tries = exhausted ? "attempt " + std::to_string(st_.attempts) + ", retry budget of " +
                                      std::to_string(limit) + " spent; still retrying, next in " + FormatDuration(backoff)
                                : "retry " + std::to_string(st_.attempts) + "/" + std::to_string(limit) + " in " +
                                      FormatDuration(backoff);
  st_.message = reason + ": " + st_.last_error + " (" + tries + ")";
  if (at_target) {
    st_.message = su_.service + " was at " + su_.target_version + " when last observed" +
                  (st_.observed_at.empty() ? "" : " (so since " + st_.observed_at + ")") + "; " + st_.message;
    SetCondition(&st_, condition::kReady, condition_status::kUnknown, reason, st_.message, su_.generation, now);
  } else {
    SetCondition(&st_, condition::kReady, condition_status::kFalse, reason, st_.message, su_.generation, now);
  }
  if (exhausted) {
    std::string why = "still failing after " + std::to_string(st_.attempts) + " attempts (retries.limit " +
                      std::to_string(limit) + "): " + st_.last_error + "; still retrying, at most every " +
                      FormatDuration(su_.policy.retries.max_backoff) + ", until it works. Fix the cause; `schema-upgrade apply` or a new olympus.io/retry "
                      "annotation value tries at once";
    bool newly = !FindCondition(st_, condition::kStalled) || FindCondition(st_, condition::kStalled)->status != condition_status::kTrue;
    SetCondition(&st_, condition::kReconciling, condition_status::kFalse, reasons::kRetriesExhausted, why, su_.generation, now);
    SetCondition(&st_, condition::kStalled, condition_status::kTrue, reasons::kRetriesExhausted, why, su_.generation, now);
    if (newly) Event(event_type::kWarning, reasons::kRetriesExhausted, why);
  } else {
    SetCondition(&st_, condition::kReconciling, at_target ? condition_status::kFalse : condition_status::kTrue, reason, st_.message, su_.generation, now);
    SetCondition(&st_, condition::kStalled, condition_status::kFalse, reason, "", su_.generation, now);
  }
  Save();
  Event(event_type::kWarning, reason, st_.message);
  LogWarn("reconcile.retry", {{"resource", su_.Key()}, {"reason", reason}, {"error", st_.last_error},
                              {"attempt", std::to_string(st_.attempts)}, {"backoff", FormatDuration(backoff)},
                              {"stalled", exhausted ? "true" : "false"}});
  return backoff;
}

// Waiting for something outside (approval, window, dry run): not an error. Reconciling stays True
// while the spec's target is still to be reached (approval, window, a changed plan), so kstatus
// (Flux) reads InProgress, not Current, and nothing that depends on the upgrade goes ahead; a dry
// run has reached what its spec asks for (a plan), so it is not reconciling.
void Pass::RecordWaiting(const StepOutcome& o) {
  const std::string& reason = o.reason;
  const std::string& message = o.message;
  // A rollout still progressing (Kubernetes) is the verify step under way, not a hold-up: GitOps
  // health reads the Verifying phase as Progressing, Waiting as Suspended.
  // Likewise the soak before contract migrations is the upgrade under way (phase Soaking).
  st_.phase = reason == reasons::kRolloutInProgress ? Phase::kVerifying
              : reason == reasons::kContractSoaking ? Phase::kSoaking
                                                     : Phase::kWaiting;
  st_.message = message;
  auto now = d_.clock->Now();
  const bool reconciling = !su_.policy.dry_run;
  SetCondition(&st_, condition::kReady, condition_status::kFalse, reason, message, su_.generation, now);
  SetCondition(&st_, condition::kReconciling, reconciling ? condition_status::kTrue : condition_status::kFalse, reason,
               message, su_.generation, now);
  SetCondition(&st_, condition::kStalled, condition_status::kFalse, reason, "", su_.generation, now);
  Save();
  LogInfo("reconcile.waiting", {{"resource", su_.Key()}, {"reason", reason}, {"message", message}});
}

void Pass::Audit(const std::string& direction, const std::string& status, const std::string& detail,
                 const std::string& error) {
  if (!db_) return;
  AuditLog log(db_.get());
  if (!log.Ensure().ok()) return;
  AuditEntry e;
  e.resource = su_.Key();
  e.engine = "controller";
  e.version = su_.target_version;
  e.name = su_.service;
  e.direction = direction;
  e.status = status;
  e.detail = Scrub(detail);
  e.error = Scrub(error);
  (void)log.Record(e);
}

}  // namespace su::reconcile_internal
