// Pass: what policy.onFailure does after a permanent failure (halt, rollbackImage, restoreBackup,
// runDown), recorded in status.failureAction and the audit log (see pass.h).
#include "reconcilers/schemaupgrade/pass.h"

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
      std::string img = RollbackImage();
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
      action = RollbackImage();
      break;
    case OnFailure::kRestoreBackup: {
      std::string img = RollbackImage();
      action = RestoreBackup() + (img.empty() ? "" : "; " + img);
      break;
    }
    case OnFailure::kRunDown: {
      std::string img = RollbackImage();
      action = RunDown() + (img.empty() ? "" : "; " + img);
      break;
    }
    case OnFailure::kRollback:
      action = Rollback();
      break;
  }
  }
  if (!st_.rollout_hold.empty()) {
    // GitOps bumped first and the upgrade failed: new pods must not start against this schema.
    action += "; the rollout of " + su_.workload.kind + " " + su_.workload.name +
              " stays held (it declares the new image, whose migrations did not all apply): fix and retry "
              "(olympus.io/retry), and the controller resumes it afterwards";
  }
  st_.failure_action = Scrub(action);
  st_.attempts++;
  Audit("on-failure", "succeeded", std::string(OnFailureName(su_.policy.on_failure)) + ": " + action,
        failure.ToString());
  return StepOutcome::Failed(failure, reason);
}

std::string Pass::RollbackImage() {
  if (!d_.workloads || st_.previous_image.empty() || SameImage(declared_image_, st_.previous_image)) {
    return su_.policy.on_failure == OnFailure::kRollbackImage || su_.policy.on_failure == OnFailure::kRollback
               ? "rollbackImage: the image was not changed, nothing to roll back"
               : "";
  }
  Status s = d_.workloads->SetDeclaredImage(su_.workload, declared_image_, st_.previous_image);
  if (s.ok()) s = d_.workloads->Rollout(su_.workload, st_.previous_image);
  if (!s.ok()) return "rollbackImage to " + st_.previous_image + " FAILED: " + s.ToString();
  declared_image_ = st_.previous_image;
  st_.image = st_.previous_image;
  Audit("rollback-image", "succeeded", target_image_ + " -> " + st_.previous_image);
  Event(event_type::kWarning, reasons::kImageRolledBack, "image restored to " + st_.previous_image);
  return "rollbackImage: image restored to " + st_.previous_image + RollbackRollout();
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

// Rolls back what this upgrade applied, by what it applied: the versions the audit log records
// since the upgrade started, newest application first (an out-of-order file is undone in its
// place, not by version order). Status follows the database after every step, also when a down
// file fails.
std::string Pass::Rollback() {
  // 1. The image: back to the one before this upgrade (before its first bump: an upgrade path's
  // steps bumped several times), so no instance of the new version meets the old schema.
  if (!st_.start_image.empty()) st_.previous_image = st_.start_image;
  Audit("rollback", "started", "onFailure rollback: image back to " +
                                   (st_.previous_image.empty() ? std::string("(unchanged)") : st_.previous_image) +
                                   ", then the schema back to " + (st_.start_version.empty() ? "(unchanged)" : st_.start_version));
  std::string img = RollbackImage();
  if (img.find("FAILED") != std::string::npos) {
    const std::string msg = "rollback: " + img + "; the schema was left as it is (the new version may still run "
                            "against it): restore the image by hand, then run `schema-upgrade rollback`";
    Audit("rollback", "failed", msg);
    return msg;
  }
  // 2. The schema: what this upgrade applied, undone. Nothing applied yet (it failed before its
  // first migration): nothing to undo.
  if (st_.start_version.empty()) {
    Audit("rollback", "succeeded", "no migration of this upgrade had started; the schema was not touched");
    return "rollback: " + img + "; then the schema: no migration of this upgrade had run, nothing to undo";
  }
  std::string schema;
  bool nothing_done = false;
  if (su_.migrations.engine == "sql") schema = RunDown(&nothing_done);
  if (su_.migrations.engine != "sql" || (nothing_done && st_.backup)) {
    const std::string why = su_.migrations.engine == "sql"
                                ? " (down migrations refused: " + schema + ")"
                                : " (engine " + su_.migrations.engine + " has no down migrations)";
    schema = RestoreBackup() + why;
  }
  const bool ok = schema.find("FAILED") == std::string::npos && schema.find("REFUSED") == std::string::npos &&
                  schema.find("nothing restored") == std::string::npos;
  Audit("rollback", ok ? "succeeded" : "failed", "schema: " + schema);
  if (ok) Event(event_type::kWarning, reasons::kSchemaRolledBack, "schema rolled back: " + schema);
  return "rollback: " + img + "; then the schema: " + schema;
}

std::string Pass::RunDown(bool* nothing_done) {
  RunContext ctx;
  ctx.resource = su_.Key();
  ctx.actor = CurrentActor();
  ctx.lock_timeout = su_.policy.lock_timeout;
  ctx.statement_timeout = su_.policy.statement_timeout;
  ctx.clock = d_.clock;
  ctx.on_progress = d_.on_progress;
  // Only the down files that were planned (and approved) may run.
  ctx.approved = ReviewedDowns();
  std::string to = !st_.start_version.empty() ? st_.start_version : (plan_.db_version.empty() ? "0" : plan_.db_version);
  // Hold the migration lock while the down migrations run (re-entrant if Migrate holds it).
  auto lock = MigrationLock::AcquireForDatabase(db_.get(), su_.policy.lock_wait, d_.clock);
  if (!lock.ok()) return "runDown FAILED: " + lock.status().ToString();
  auto applied = AuditLog(db_.get(), EngineAuditSchema(su_)).UpgradeApplied(su_.Key());
  RunReport r;
  if (applied.ok()) {
    std::vector<std::string> newest_first(applied->rbegin(), applied->rend());
    r = engine_->RollbackVersions(db_.get(), newest_first, ctx);
  } else if (applied.status().code() == Code::kNotFound) {
    r = engine_->Rollback(db_.get(), to, ctx);  // an upgrade started before the audit log marked starts
  } else {
    return "runDown FAILED: could not read what this upgrade applied from the audit log: " +
           applied.status().ToString() + "; nothing was rolled back";
  }
  std::string undone;
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
  std::string what = std::to_string(r.steps.size()) + " migration(s) rolled back" + (undone.empty() ? "" : " (" + undone + ")");
  if (nothing_done) *nothing_done = !r.status.ok() && r.steps.empty();
  if (!r.status.ok()) {
    return "runDown FAILED after " + what + ": " + r.status.ToString() + "; " + at +
           ". Fix the down file, or roll back by hand (schema-upgrade rollback), then retry";
  }
  return "runDown: " + what + "; " + at;
}

}  // namespace su::reconcile_internal
