// Pass: an onFailure rollback that survives a kill (see pass.h and api/status.h UndoProgress).
// status.undo is saved before the combined rollback changes anything and after each of its steps;
// a pass that finds it resumes the rollback rather than planning the upgrade again (the schema is
// back at the pre-upgrade version then, so the plan would show the failed migrations as pending
// and run them again). Which steps committed is read from the audit log, whose rows commit with
// the step they record (the restore's in the restore's transaction, each down file's with it).
#include "reconcilers/schemaupgrade/pass.h"

#include "reconcilers/base/crash_point.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/runtimes/image_ref.h"

namespace su::reconcile_internal {
namespace {

// The Code whose CodeName is `name` (kFailed when none is: a status written by hand).
Code UndoFailureCode(const std::string& name) {
  for (int c = static_cast<int>(Code::kOk); c <= static_cast<int>(Code::kConflict); ++c) {
    if (name == CodeName(static_cast<Code>(c))) return static_cast<Code>(c);
  }
  return Code::kFailed;
}

// "0" and "" both mean an empty database (backups and start versions say "0", plans "").
std::string UndoVersion(const std::string& v) { return v.empty() ? "0" : v; }

}  // namespace

void Pass::BeginUndo(const Status& failure, const std::string& reason) {
  UndoProgress u;
  u.policy = OnFailureName(su_.policy.on_failure);
  u.plan_hash = plan_.hash;
  u.target_version = final_target_;
  u.generation = su_.generation;
  u.start_version = st_.start_version;
  u.start_image = !st_.start_image.empty() ? st_.start_image : st_.previous_image;
  u.from_image = declared_image_;
  u.image_bumped = d_.workloads && !u.start_image.empty() && !SameImage(declared_image_, u.start_image);
  u.failure = Scrub(failure.ToString());
  u.failure_code = CodeName(failure.code());
  u.reason = reason;
  u.attempts = st_.attempts;
  u.started_at = FormatTime(d_.clock->Now());
  if (db_) {
    // Where this rollback's rows start. Unreadable (-1): a resumed pass says it cannot tell.
    if (auto id = AuditLog(db_.get()).LastId(su_.Key()); id.ok()) u.audit_from = *id;
    const std::string schema = EngineAuditSchema(su_);
    if (schema == "public") {
      u.engine_audit_from = u.audit_from;
    } else if (auto id = AuditLog(db_.get(), schema).LastId(su_.Key()); id.ok()) {
      u.engine_audit_from = *id;
    }
  }
  st_.undo = std::move(u);
  Save();
  CrashPoint("undo-saved");
  LogInfo("undo.started", {{"resource", su_.Key()}, {"policy", st_.undo->policy}, {"plan", st_.undo->plan_hash},
                           {"audit_from", std::to_string(st_.undo->audit_from)}});
}

void Pass::UndoStepDone(const std::string& step, const std::string& result) {
  if (!st_.undo) return;
  st_.undo->done.push_back(step);
  if (step.rfind("image", 0) == 0) st_.undo->image_result = result;
  if (step.rfind("schema", 0) == 0) st_.undo->schema_result = result;
  Save();
}

bool Pass::UndoDone(const std::string& step) const {
  if (!st_.undo) return false;
  for (const auto& d : st_.undo->done) {
    if (d == step) return true;
  }
  return false;
}

Result<UndoSeen> Pass::ReadUndoSeen() const {
  const UndoProgress& u = *st_.undo;
  UndoSeen seen;
  const std::string schema = EngineAuditSchema(su_);
  SU_ASSIGN_OR_RETURN(std::vector<AuditEntry> rows, AuditLog(db_.get()).Since(su_.Key(), u.audit_from));
  for (const auto& e : rows) {
    if (e.direction == "rollback" && e.status == "started") seen.started = true;
    if (e.direction == "rollback" && (e.status == "succeeded" || e.status == "failed")) seen.ended = true;
    if (e.direction == "rollback-image" && e.status == "succeeded") seen.image = true;
    if (e.direction == "restore" && e.status == "succeeded") {
      seen.restored = true;
      seen.restore_path = e.detail;
    }
    if (e.direction == "on-failure") seen.on_failure = true;
    if (schema == "public" && e.direction == "down" && e.status == "succeeded") seen.downs.push_back(e.version);
  }
  if (schema != "public" && u.engine_audit_from >= 0) {
    SU_ASSIGN_OR_RETURN(std::vector<AuditEntry> downs, AuditLog(db_.get(), schema).Since(su_.Key(), u.engine_audit_from));
    for (const auto& e : downs) {
      if (e.direction == "down" && e.status == "succeeded") seen.downs.push_back(e.version);
    }
  }
  return seen;
}

StepOutcome Pass::ResumeUndo() {
  const UndoProgress u = *st_.undo;
  if (u.policy != OnFailureName(OnFailure::kRollback) || u.target_version != final_target_) {
    // Not this spec's (a new spec starts without it, LoadStatus): nothing to resume.
    st_.undo.reset();
    return StepOutcome::Succeeded();
  }
  const Status failure = Status::Error(UndoFailureCode(u.failure_code), u.failure);
  LogInfo("undo.resume", {{"resource", su_.Key()}, {"plan", u.plan_hash}, {"done", std::to_string(u.done.size())}});
  // The record and the world disagree: nothing more is undone, and nothing is run again; the
  // record stays in status.undo for whoever looks.
  auto refuse = [&](const std::string& what) {
    const std::string msg =
        "onFailure rollback of plan " + u.plan_hash + " (target " + u.target_version + ", failed with: " + u.failure +
        ") was interrupted, and " + what + ". Nothing more was undone and the upgrade was not run again: check " +
        "`schema-upgrade history` and the workload, put them where they should be (`schema-upgrade rollback` for the "
        "schema), then start over with a new olympus.io/retry annotation value";
    Audit("rollback", "failed", msg);
    st_.failure_action = Scrub("rollback: " + msg);
    return StepOutcome::Failed(Status::Error(Code::kFailed, msg), reasons::kRollbackStateMismatch);
  };
  if (u.audit_from < 0) {
    return refuse("the audit log could not be read when it began, so which of its steps committed cannot be told");
  }
  auto seen = ReadUndoSeen();
  if (!seen.ok()) {
    if (Transient(seen.status())) return StepOutcome::RetryAfter(seen.status(), reasons::kDatabaseUnavailable);
    return refuse("its audit rows cannot be read (" + seen.status().ToString() + ")");
  }
  // The image: back at the pre-upgrade one once the step is recorded; before, at either end.
  if (u.image_bumped && d_.workloads && !su_.workload.kind.empty()) {
    const bool back = UndoDone("image") || seen->image;
    const bool at_start = SameImage(declared_image_, u.start_image);
    if (back && !at_start) {
      return refuse("the image was put back to " + u.start_image + ", but " + su_.workload.name + " declares " +
                    declared_image_ + " now");
    }
    if (!back && !at_start && !SameImage(declared_image_, u.from_image)) {
      return refuse(su_.workload.name + " declares " + declared_image_ + " now, neither the image the upgrade set (" +
                    u.from_image + ") nor the one before it (" + u.start_image + ")");
    }
  }
  // The schema: at the pre-upgrade version once the step committed.
  const bool schema_back = UndoDone("schema") || seen->restored;
  if (!u.start_version.empty() && schema_back && UndoVersion(plan_.db_version) != UndoVersion(u.start_version)) {
    return refuse(std::string(seen->restored ? "the audit log shows its restore of " + seen->restore_path + " committed"
                                             : "status.undo says its schema step finished") +
                  " (the database back at " + UndoVersion(u.start_version) + "), but the database is at " +
                  UndoVersion(plan_.db_version) + " now");
  }
  undo_seen_ = *seen;
  CombinedRollback r = Rollback();
  return EndFailure(failure, u.reason, r.message, &*undo_seen_);
}

}  // namespace su::reconcile_internal
