// Pass: the top-level sequence of steps and the status, condition, event and audit bookkeeping
// every step uses (see pass.h).
#include "reconcilers/schemaupgrade/pass.h"

#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/database/audit_log.h"

namespace su::reconcile_internal {

ReconcileOutcome Pass::Run() {
  if (!LoadStatus()) return Finish();
  if (!CheckStalledOrBackoff()) return Finish();
  if (!Observe()) return Finish();
  if (!Gates()) return Finish();
  if (opt_.dry_run) {
    out_.terminal = true;
    return Finish();
  }
  if (!Backup()) return Finish();
  if (!Migrate()) return Finish();
  if (!Bump()) return Finish();
  if (!Verify()) return Finish();
  Succeed();
  return Finish();
}

// ---- status bookkeeping ----
bool Pass::LoadStatus() {
  auto loaded = d_.store->Load(su_.Key());
  if (!loaded.ok()) {
    no_save_ = true;  // keep the unreadable file for the operator to inspect
    return Fatal(loaded.status(), "StatusUnreadable");
  }
  if (loaded->has_value()) st_ = **loaded;
  std::string token = SpecToken(su_);
  if (st_.spec_hash != token) {
    // A new spec (or an explicit retry): start over, keeping only what describes the world.
    // An earlier upgrade's backup is not carried over: restoreBackup must only ever restore the
    // backup taken for this upgrade (the audit log keeps the record of older ones).
    ResourceStatus fresh;
    fresh.conditions = st_.conditions;
    st_ = fresh;
    st_.spec_hash = token;
  }
  if (opt_.force && st_.phase == Phase::kFailed) st_.attempts = 0;  // an explicit retry: a fresh budget
  st_.resource = su_.Key();
  st_.observed_generation = su_.generation;
  st_.target_version = su_.target_version;
  return true;
}

void Pass::Save() {
  st_.updated_at = FormatTime(d_.clock->Now());
  if (opt_.dry_run || no_save_) return;
  Status s = d_.store->Save(su_.Key(), st_);
  if (!s.ok()) LogError("status.save_failed", {{"resource", su_.Key()}, {"error", s.ToString()}});
}

void Pass::SetPhase(Phase p, const std::string& message) {
  st_.phase = p;
  st_.message = message;
  SetCondition(&st_, "Reconciling", "True", PhaseName(p), message, su_.generation, d_.clock->Now());
  SetCondition(&st_, "Ready", "False", PhaseName(p), message, su_.generation, d_.clock->Now());
  Save();
  LogInfo("phase", {{"resource", su_.Key()}, {"phase", PhaseName(p)}, {"message", message}});
}

void Pass::Event(const std::string& type, const std::string& reason, const std::string& message) {
  if (d_.on_event && !opt_.dry_run) d_.on_event(su_.Key(), type, reason, Scrub(message));
}

// Permanent failure: stays Failed and Stalled until the spec changes or a forced run.
bool Pass::Fatal(const Status& s, const std::string& reason) {
  out_.result = s;
  st_.phase = Phase::kFailed;
  st_.last_error = Scrub(s.ToString());
  st_.message = st_.last_error;
  st_.next_retry_at.clear();
  auto now = d_.clock->Now();
  SetCondition(&st_, "Ready", "False", reason, st_.last_error, su_.generation, now);
  SetCondition(&st_, "Reconciling", "False", reason, st_.last_error, su_.generation, now);
  SetCondition(&st_, "Stalled", "True", reason, st_.last_error, su_.generation, now);
  out_.terminal = true;
  Save();
  Event("Warning", reason, st_.last_error);
  LogWarn("reconcile.failed", {{"resource", su_.Key()}, {"reason", reason}, {"error", st_.last_error}});
  return false;
}

// Transient failure: back off and come back, up to retries.limit attempts.
bool Pass::Retry(const Status& s, const std::string& reason) {
  out_.result = s;
  if (d_.cancelled && d_.cancelled()) {
    // A shutdown is not a failure of this resource: no attempt is spent, the next start resumes.
    st_.message = "stopped by shutdown during " + std::string(PhaseName(st_.phase)) + "; resumes on the next start";
    SetCondition(&st_, "Reconciling", "True", "Interrupted", st_.message, su_.generation, d_.clock->Now());
    Save();
    LogInfo("reconcile.interrupted", {{"resource", su_.Key()}, {"phase", PhaseName(st_.phase)}});
    return false;
  }
  st_.attempts++;
  st_.last_error = Scrub(s.ToString());
  if (st_.attempts > su_.policy.retries.limit) {
    return Fatal(Status::Error(s.code(), "gave up after " + std::to_string(st_.attempts) + " attempts: " +
                                             s.message() + "; fix the cause, then run `schema-upgrade apply` "
                                             "or change the olympus.io/retry annotation"),
                 "RetriesExhausted");
  }
  // A resource that was Succeeded or Failed is neither while it retries.
  if (st_.phase == Phase::kSucceeded || st_.phase == Phase::kFailed) st_.phase = Phase::kPending;
  auto backoff = BackoffFor(su_.policy.retries, st_.attempts);
  st_.next_retry_at = FormatTime(d_.clock->Now() + backoff);
  st_.message = reason + ": " + st_.last_error + " (retry " + std::to_string(st_.attempts) + "/" +
                std::to_string(su_.policy.retries.limit) + " in " + FormatDuration(backoff) + ")";
  auto now = d_.clock->Now();
  SetCondition(&st_, "Ready", "False", reason, st_.message, su_.generation, now);
  SetCondition(&st_, "Reconciling", "True", reason, st_.message, su_.generation, now);
  SetCondition(&st_, "Stalled", "False", reason, "", su_.generation, now);
  out_.requeue_after = backoff;
  Save();
  Event("Warning", reason, st_.message);
  LogWarn("reconcile.retry", {{"resource", su_.Key()}, {"reason", reason}, {"error", st_.last_error},
                              {"attempt", std::to_string(st_.attempts)}, {"backoff", FormatDuration(backoff)}});
  return false;
}

// Waiting for something outside (approval, window, dry run): not an error.
bool Pass::Wait(const std::string& reason, const std::string& message, std::chrono::milliseconds requeue_after) {
  st_.phase = Phase::kWaiting;
  st_.message = message;
  auto now = d_.clock->Now();
  SetCondition(&st_, "Ready", "False", reason, message, su_.generation, now);
  SetCondition(&st_, "Reconciling", "False", reason, message, su_.generation, now);
  SetCondition(&st_, "Stalled", "False", reason, "", su_.generation, now);
  out_.requeue_after = requeue_after;
  out_.terminal = requeue_after.count() == 0;
  out_.result = Status::Error(Code::kGated, message);
  Save();
  LogInfo("reconcile.waiting", {{"resource", su_.Key()}, {"reason", reason}, {"message", message}});
  return false;
}

ReconcileOutcome Pass::Finish() {
  out_.status = st_;
  return out_;
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
