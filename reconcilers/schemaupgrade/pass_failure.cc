// Pass: what policy.onFailure does after a permanent failure (halt, rollbackImage, restoreBackup,
// runDown), recorded in status.failureAction and the audit log (see pass.h).
#include "reconcilers/schemaupgrade/pass.h"

#include "reconcilers/base/crash_point.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/runtimes/image_ref.h"

namespace su::reconcile_internal {

// A permanent failure at `reason`: carry out policy.onFailure once, then stay Failed.
StepOutcome Pass::OnFailure(const Status& failure, const std::string& reason) {
  std::string action;
  if (PlanHasContractSteps(plan_)) {
    // Expand/contract (docs/expand-contract.md): the expand migrations are backward compatible by
    // design, so no policy undoes them; before the contract phase the old image comes back (when
    // the policy restores anything), in the contract phase nothing is undone: the old version is
    // gone and may not run on a schema some contract migrations already changed.
    const std::string at = "the database stays at " + (st_.current_version.empty() ? std::string("(nothing applied)")
                                                                                   : st_.current_version);
    if (contract_run_) {
      action = std::string(OnFailureName(su_.policy.on_failure)) + ": a contract migration failed (it rolled back " +
               "in its own transaction); nothing was undone: " + su_.workload.name + " keeps running " +
               declared_image_ + " (the old version is gone) and " + at + ". Fix the contract migration and retry " +
               "(olympus.io/retry)";
      if (su_.workload.kind.empty()) action = std::string(OnFailureName(su_.policy.on_failure)) +
                                              ": a contract migration failed (rolled back in its own transaction); "
                                              "nothing was undone; " + at;
    } else if (su_.policy.on_failure == OnFailure::kHalt) {
      action = "halt: nothing was undone (expand/contract upgrade: the contract migrations did not run; " + at + ")";
    } else {
      std::string img = RollbackImage().message;
      action = (img.empty() ? std::string("the image was not changed") : img) + "; " +
               (su_.policy.on_failure == OnFailure::kRollbackImage
                    ? std::string()
                    : std::string(OnFailureName(su_.policy.on_failure)) + " left the schema alone: ") +
               "expand/contract upgrade: the expand migrations stay (backward compatible by design), the contract "
               "migrations did not run; " + at;
    }
  } else {
  switch (su_.policy.on_failure) {
    case OnFailure::kHalt:
      action = "halt: nothing was undone";
      break;
    case OnFailure::kRollbackImage:
      action = RollbackImage().message;
      break;
    case OnFailure::kRestoreBackup: {
      std::string img = RollbackImage().message;
      action = RestoreBackup().message + (img.empty() ? "" : "; " + img);
      break;
    }
    case OnFailure::kRunDown: {
      std::string img = RollbackImage().message;
      action = RunDown().message + (img.empty() ? "" : "; " + img);
      break;
    }
    case OnFailure::kRollback:
      BeginUndo(failure, reason);  // status.undo: a pass after a kill resumes it (pass_undo.cc)
      action = Rollback().message;
      break;
  }
  }
  return EndFailure(failure, reason, std::move(action));
}

StepOutcome Pass::EndFailure(const Status& failure, const std::string& reason, std::string action,
                             const UndoSeen* seen) {
  if (!st_.rollout_hold.empty()) {
    // GitOps bumped first and the upgrade failed: new pods must not start against this schema.
    action += "; the rollout of " + su_.workload.kind + " " + su_.workload.name +
              " stays held (it declares the new image, whose migrations did not all apply): fix and retry "
              "(olympus.io/retry), and the controller resumes it afterwards";
  }
  st_.failure_action = Scrub(action);
  // A resumed rollback counts the failure once: from the attempts recorded when it began.
  st_.attempts = (st_.undo ? st_.undo->attempts : st_.attempts) + 1;
  if (!seen || !seen->on_failure) {
    Audit("on-failure", "succeeded", std::string(OnFailureName(su_.policy.on_failure)) + ": " + action,
          failure.ToString());
  }
  st_.undo.reset();  // saved with the Failed status (RecordFailed)
  return StepOutcome::Failed(failure, reason);
}

UndoOutcome Pass::RollbackImage() {
  // Resumed after a kill between declaring the old image and recording it: declared already, but
  // its rollout (and the step's row and event) may not have happened.
  const bool declared_already = undo_seen_ && st_.undo && st_.undo->image_bumped && d_.workloads &&
                                !st_.previous_image.empty() && SameImage(declared_image_, st_.previous_image);
  if (!declared_already &&
      (!d_.workloads || st_.previous_image.empty() || SameImage(declared_image_, st_.previous_image))) {
    return UndoOutcome::Done(UndoKind::kNothingToUndo,
                             su_.policy.on_failure == OnFailure::kRollbackImage || su_.policy.on_failure == OnFailure::kRollback
                                 ? "rollbackImage: the image was not changed, nothing to roll back"
                                 : "");
  }
  Status s = declared_already ? Status::Ok()
                              : d_.workloads->SetDeclaredImage(su_.workload, declared_image_, st_.previous_image);
  const bool declared = s.ok();
  if (s.ok()) s = d_.workloads->Rollout(su_.workload, st_.previous_image);
  if (!s.ok()) {
    return UndoOutcome::NotDone(UndoKind::kFailed, "rollbackImage to " + st_.previous_image + " FAILED: " + s.ToString(),
                                s.ToString(), /*changed_nothing=*/!declared);
  }
  declared_image_ = st_.previous_image;
  st_.image = st_.previous_image;
  Audit("rollback-image", "succeeded", target_image_ + " -> " + st_.previous_image);
  Event(event_type::kWarning, reasons::kImageRolledBack, "image restored to " + st_.previous_image);
  const std::string rollout = RollbackRollout();
  UndoOutcome o = UndoOutcome::Done(UndoKind::kImageRestored, "rollbackImage: image restored to " + st_.previous_image + rollout);
  o.came_up = rollout.empty();
  return o;
}

std::string Pass::RollbackRollout() {
  if (!d_.verify) return "";
  const auto start = d_.clock->MonotonicNow();
  for (;;) {
    Status v = d_.verify(d_.workloads, su_.workload, st_.previous_image, su_.policy.verify_settle, d_.clock);
    if (v.ok()) return "";
    if (v.code() != Code::kGated) return ", but it did not come up: " + v.message();
    if ((d_.cancelled && d_.cancelled()) || d_.clock->MonotonicNow() - start >= kRollbackRolloutWait) {
      return ", and its rollout had not finished when the controller stopped waiting: " + v.message();
    }
  }
}

// Pass::RestoreBackup is in pass_restore.cc.

// onFailure rollback: every decision below is taken on the steps' UndoOutcome kinds (undo.h).
// Resumed after a kill (undo_seen_ set, pass_undo.cc), a step status.undo records as finished, or
// whose committed row the audit log holds, is not run again; its rows and events are not repeated.
CombinedRollback Pass::Rollback() {
  CombinedRollback r;
  const UndoSeen* seen = undo_seen_ ? &*undo_seen_ : nullptr;
  // 1. The image: back to the one before this upgrade (before its first bump: an upgrade path's
  // steps bumped several times), so no instance of the new version meets the old schema.
  if (!st_.start_image.empty()) st_.previous_image = st_.start_image;
  if (!seen || !seen->started) {
    Audit("rollback", "started", "onFailure rollback: image back to " +
                                     (st_.previous_image.empty() ? std::string("(unchanged)") : st_.previous_image) +
                                     ", then the schema back to " + (st_.start_version.empty() ? "(unchanged)" : st_.start_version));
  }
  if (UndoDone("image")) {
    r.image = UndoOutcome::Done(UndoKind::kImageRestored, st_.undo->image_result);
  } else if (UndoDone("image-failed")) {
    r.image = UndoOutcome::NotDone(UndoKind::kFailed, st_.undo->image_result, st_.undo->image_result, false);
  } else if (seen && seen->image) {
    // Declared back and recorded; only the status write was lost. Its rollout is looked at again.
    declared_image_ = st_.previous_image;
    st_.image = st_.previous_image;
    const std::string rollout = RollbackRollout();
    r.image = UndoOutcome::Done(UndoKind::kImageRestored, "rollbackImage: image restored to " + st_.previous_image + rollout);
    r.image.came_up = rollout.empty();
  } else {
    r.image = RollbackImage();
  }
  if (st_.undo && !UndoDone("image") && !UndoDone("image-failed")) {
    UndoStepDone(r.image.ok() ? "image" : "image-failed", r.image.message);
  }
  if (!r.image.ok()) {
    // The new version may still be declared: the old schema under it would break it too.
    r.message = "rollback: " + r.image.message + "; the schema was left as it is (the new version may still run "
                "against it): restore the image by hand, then run `schema-upgrade rollback`";
    if (!seen || !seen->ended) Audit("rollback", "failed", r.message);
    return r;
  }
  // 2. The schema: what this upgrade applied, undone. Nothing applied yet (it failed before its
  // first migration): nothing to undo.
  r.schema_tried = true;
  if (st_.start_version.empty()) {
    r.schema = UndoOutcome::Done(UndoKind::kNothingToUndo, "no migration of this upgrade had run, nothing to undo");
    if (!seen || !seen->ended) Audit("rollback", "succeeded", "no migration of this upgrade had started; the schema was not touched");
    r.message = "rollback: " + r.image.message + "; then the schema: " + r.schema.message;
    return r;
  }
  if (UndoDone("schema") || UndoDone("schema-failed")) {
    // Recorded with its sentence; from here on only ok() matters (the kind is not recorded).
    const bool ok = UndoDone("schema");
    r.schema = ok ? UndoOutcome::Done(UndoKind::kSchemaByBackup, st_.undo->schema_result)
                  : UndoOutcome::NotDone(UndoKind::kFailed, st_.undo->schema_result, st_.undo->schema_result, false);
  } else if (seen && seen->restored) {
    // The restore committed (its row commits with it) before the kill: not restored again.
    r.schema = UndoOutcome::Done(UndoKind::kSchemaByBackup, "restoreBackup: database restored from " + seen->restore_path);
    r.schema.message += st_.undo ? st_.undo->schema_note : "";
    Event(event_type::kWarning, reasons::kBackupRestored, "database restored from " + seen->restore_path);
  } else {
    if (su_.migrations.engine == "sql") r.schema = RunDown(seen ? seen->downs : std::vector<std::string>{});
    // Down files first; the backup when there are none (other engines) or they changed nothing
    // (refused before the first ran, or the first failed in its own transaction).
    const bool down_changed_nothing = su_.migrations.engine == "sql" && !r.schema.ok() && r.schema.changed_nothing;
    if (su_.migrations.engine != "sql" || (down_changed_nothing && st_.backup)) {
      const std::string why = su_.migrations.engine == "sql"
                                  ? " (down migrations refused: " + r.schema.message + ")"
                                  : " (engine " + su_.migrations.engine + " has no down migrations)";
      if (st_.undo && st_.undo->schema_note != why) {
        st_.undo->schema_note = why;  // for a pass resuming after the restore committed
        Save();
      }
      r.schema = RestoreBackup();
      r.schema.message += why;
    }
  }
  if (st_.undo && !UndoDone("schema") && !UndoDone("schema-failed")) {
    UndoStepDone(r.schema.ok() ? "schema" : "schema-failed", r.schema.message);
  }
  if (!seen || !seen->ended) {
    Audit("rollback", r.schema.ok() ? "succeeded" : "failed", "schema: " + r.schema.message);
    if (r.schema.ok()) Event(event_type::kWarning, reasons::kSchemaRolledBack, "schema rolled back: " + r.schema.message);
  }
  r.message = "rollback: " + r.image.message + "; then the schema: " + r.schema.message;
  return r;
}

UndoOutcome Pass::RunDown(const std::vector<std::string>& undone_before) {
  RunContext ctx;
  ctx.resource = su_.Key();
  ctx.actor = CurrentActor();
  ctx.lock_timeout = su_.policy.lock_timeout;
  ctx.statement_timeout = su_.policy.statement_timeout;
  ctx.clock = d_.clock;
  ctx.on_progress = [this](const Progress& p) {
    if (p.event == Progress::Event::kMigrationDone) CrashPoint("down-done");  // committed with its row
    if (d_.on_progress) d_.on_progress(p);
  };
  // Only the down files that were planned (and approved) may run.
  ctx.approved = ReviewedDowns();
  std::string to = !st_.start_version.empty() ? st_.start_version : (plan_.db_version.empty() ? "0" : plan_.db_version);
  // Hold the migration lock while the down migrations run (re-entrant if Migrate holds it).
  auto lock = MigrationLock::AcquireForDatabase(db_.get(), su_.policy.lock_wait, d_.clock);
  if (!lock.ok()) {
    return UndoOutcome::NotDone(UndoKind::kFailed, "runDown FAILED: " + lock.status().ToString(),
                                lock.status().ToString(), /*changed_nothing=*/true);
  }
  auto applied = AuditLog(db_.get(), EngineAuditSchema(su_)).UpgradeApplied(su_.Key());
  RunReport r;
  if (applied.ok()) {
    std::vector<std::string> newest_first(applied->rbegin(), applied->rend());
    r = engine_->RollbackVersions(db_.get(), newest_first, ctx);
  } else if (applied.status().code() == Code::kNotFound) {
    r = engine_->Rollback(db_.get(), to, ctx);  // an upgrade started before the audit log marked starts
  } else {
    return UndoOutcome::NotDone(UndoKind::kFailed,
                                "runDown FAILED: could not read what this upgrade applied from the audit log: " +
                                    applied.status().ToString() + "; nothing was rolled back",
                                applied.status().ToString(), /*changed_nothing=*/true);
  }
  std::string undone;
  for (const auto& v : undone_before) undone += (undone.empty() ? "" : ", ") + v;
  for (const auto& s : r.steps) {
    undone += (undone.empty() ? "" : ", ") + s.version;
    for (auto it = st_.applied.begin(); it != st_.applied.end(); ++it) {
      if (it->version == s.version) {
        st_.applied.erase(it);
        break;
      }
    }
  }
  if (r.current_version) {
    st_.current_version = *r.current_version;
  } else if (auto now = engine_->Observe(db_.get()); now.ok()) {
    st_.current_version = now->current_version;  // the engine did not say: read it back
  }
  std::string at = "the database is at " + (st_.current_version.empty() ? std::string("(nothing applied)") : st_.current_version);
  const size_t count = undone_before.size() + r.steps.size();
  std::string what = std::to_string(count) + " migration(s) rolled back" + (undone.empty() ? "" : " (" + undone + ")");
  if (!r.status.ok()) {
    // A missing down file is refused before any runs (kInvalidArgument); a down file that fails
    // rolls back in its own transaction, so a failure of the first one changed nothing either.
    return UndoOutcome::NotDone(
        count == 0 && r.status.code() == Code::kInvalidArgument ? UndoKind::kRefused : UndoKind::kFailed,
        "runDown FAILED after " + what + ": " + r.status.ToString() + "; " + at +
            ". Fix the down file, or roll back by hand (schema-upgrade rollback), then retry",
        r.status.ToString(), /*changed_nothing=*/count == 0);
  }
  return UndoOutcome::Done(count == 0 ? UndoKind::kNothingToUndo : UndoKind::kSchemaByDownFiles,
                           "runDown: " + what + "; " + at);
}

}  // namespace su::reconcile_internal
