// Pass: one reconcile pass over one SchemaUpgrade (internal to the reconciler; see reconciler.h
// for the contract). Split over several files: pass_status.cc (the top-level Run and status/condition
// bookkeeping), pass_steps.cc (observe, gates, backup, migrate, bump, verify), preflight.cc (what
// is checked before the first change), pass_failure.cc (what policy.onFailure does),
// pass_restore.cc (its restore) and pass_undo.cc (a rollback resumed after a kill, status.undo).
// Every step returns a StepOutcome (outcome.h): succeeded (go on), or why the pass stops: waiting,
// retry-after or failed. Run() is the one place that records a stopping outcome in status
// (conditions, attempts, backoff, events) and in the ReconcileOutcome.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/conditions.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/schemaupgrade/outcome.h"
#include "reconcilers/schemaupgrade/path_step.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "reconcilers/schemaupgrade/reconciler.h"
#include "reconcilers/schemaupgrade/undo.h"

namespace su::reconcile_internal {

// Errors worth retrying with backoff (the world may change): unreachable, lock busy, timeouts.
bool Transient(const Status& s);
// The schema of the audit table the resource's engine writes its migration rows to.
std::string EngineAuditSchema(const SchemaUpgrade& su);
// Identifies the spec a status belongs to: the spec hash plus the olympus.io/retry annotation.
std::string SpecToken(const SchemaUpgrade& su);

// How soon a pass looks again at a rollout in progress (the Verifier said kGated).
inline constexpr std::chrono::milliseconds kRolloutRecheck{5000};
// How soon a pass waiting for spec.dependsOn looks again (a requeue, never a loop inside the pass).
inline constexpr std::chrono::milliseconds kDependencyRecheck{5000};
// How long onFailure rollbackImage waits for the rollout of the old image (Verifier kGated).
inline constexpr std::chrono::milliseconds kRollbackRolloutWait{600000};

class Pass {
 public:
  // path: the upgrade-path step this pass walks (su is then StepSpec's, path->final_target the
  // spec's own target); null or !stepping: su's target itself.
  Pass(ReconcilerDeps& deps, const SchemaUpgrade& su, const ReconcileOptions& options,
       const PathStepChoice* path = nullptr)
      : d_(deps), su_(su), opt_(options), now_(deps.clock->Now()),
        path_(path ? *path : PathStepChoice{}),
        final_target_(path && path->stepping ? path->final_target : su.target_version) {}

  ReconcileOutcome Run();

 private:
  // ---- status bookkeeping ----
  StepOutcome LoadStatus();

  void Save();

  void SetPhase(Phase p, const std::string& message);

  void Event(const std::string& type, const std::string& reason, const std::string& message);

  // Records how the pass stopped in status and in out_, and returns out_ (status included).
  ReconcileOutcome Finish(StepOutcome o);

  // Records a stopping outcome in status; returns it with `after` set for a retry (the backoff).
  StepOutcome Record(StepOutcome o);

  // Permanent failure: stays Failed and Stalled until the spec changes or a forced run.
  void RecordFailed(const StepOutcome& o);

  // Transient failure: back off and come back, for ever (at most retries.max apart); past
  // retries.limit attempts the resource is Stalled=True (RetriesExhausted) for alerting, and still
  // retried. A resource Succeeded at its target stays Succeeded with Ready=Unknown meanwhile.
  // Returns the backoff (0 when the pass was stopped by a shutdown: nothing is spent then).
  std::chrono::milliseconds RecordRetry(const StepOutcome& o);

  // Waiting for something outside (approval, window, dry run): not an error.
  void RecordWaiting(const StepOutcome& o);

  // Puts o into out_ (kind, reason, result, requeue_after, terminal) without touching status.
  void Report(const StepOutcome& o);

  // ---- steps ----
  // What an approval covered when the work started:
  // "<hash>|<target image>|<version:checksum:down checksum>,...".
  std::string ApprovalRecord() const;
  // Records the approval this pass's work runs under in status.approvedPlan, once per approval:
  // the first, a path step's own (docs/upgrade-paths.md) or one of a changed plan replaces the
  // hash, image and items, so a resumed step is checked against its own approval; the items of
  // an earlier approval that are not pending any more (applied under it) are kept, so a rollback
  // still checks their down files (ReviewedDowns).
  void RecordApproval();

  // The migrations whose down files this upgrade may run, with the checksums they had when the
  // work was approved (status.approvedPlan) or planned (this pass): RunContext::approved of runDown.
  std::vector<PendingMigration> ReviewedDowns() const;

  // The maintenance window now: nullopt when policy.maintenanceWindow is unset or open, else when
  // it opens next; kInvalidArgument for a bad window.
  Result<std::optional<Clock::TimePoint>> WindowClosedUntil() const;

  // Waiting (OutsideMaintenanceWindow) until next_open.
  StepOutcome WaitForWindow(Clock::TimePoint next_open, const std::string& what);

  // True when this pass finishes an upgrade that started under the manifest's approval: same
  // approval, same image, and every remaining migration was in the approved plan, unchanged.
  bool ResumesApprovedPlan() const;

  StepOutcome CheckStalledOrBackoff();

  // spec.dependsOn (dependencies.h). CheckDependencyCycle runs before anything connects: a cycle
  // through this resource is a validation error (Failed, DependencyCycle, naming the cycle),
  // looked at again on every pass since an edit of another member breaks it. WaitForDependencies
  // (a gate) records each dependency in the plan, and waits (WaitingForDependency, requeued after
  // kDependencyRecheck) until every one is Ready at its current target.
  StepOutcome CheckDependencyCycle();
  StepOutcome WaitForDependencies();

  StepOutcome Observe();

  // Live row estimates of the tables lint findings name (lint_live.h), for ranking; best effort.
  void LiveLintFacts(EngineState& state);
  // The digests Observe keys the observation cache by (digest: this spec's; shared: the state's).
  void ObservationDigests(const std::string& source_stamp, const std::string& history_mark, std::string* digest,
                          std::string* shared) const;
  // After a pass that changed the database and ended at its target (ReconcilerDeps::
  // observe_after_change): observes once more and caches it, so the next run finds it.
  void ObserveAfterChange();

  // Records the plan of a (re-)observation in status: database version, pending, observedAt.
  void UsePlan(Plan plan);

  // Pre-flight (preflight.cc): everything that can refuse the upgrade is checked before the
  // first change. Preflight() runs after Observe (also for `plan`): the plan's refusals (downgrade,
  // digest pin), the workload edit done in memory, whether the target image is present.
  // FetchImage() runs after the gates, before the backup: pulls a missing target image.
  StepOutcome Preflight();

  StepOutcome FetchImage();

  // The target image is neither present nor pullable: nothing was touched; retried with backoff
  // (a registry that is down, an image not pushed yet).
  StepOutcome ImageUnavailable(const Status& why);

  StepOutcome Gates();

  // policy.rehearse / `plan --rehearse` (pass_rehearse.cc): the pending migrations on a scratch
  // copy, after the gates, before the backup; Failed (RehearsalFailed) when the rehearsal fails.
  StepOutcome Rehearse();

  // Takes the migration lock when there is something to migrate, before the backup, and observes
  // again under it: a run that waited for the lock sees what the holder did (nothing left to do,
  // or a different plan, which goes through the gates again).
  StepOutcome Lock();

  // Re-reads the database version (the engine's definition: the highest applied version) after
  // migrations ran or were rolled back; keeps the last observed one when the read fails.
  void ReobserveVersion();

  StepOutcome Backup();

  // Applies policy.backup.retention to this resource's backups in dir (best effort: a Warning
  // event when it cannot); the backup of the current upgrade is always kept.
  void PruneOldBackups(const std::string& dir);

  StepOutcome Migrate();

  // Starts the blocked-session watch on backend `pid` with the policy's limit; a watch that cannot
  // start is a Warning event when the policy sets no limit (it only reports then).
  // warn false: the caller is not on the pass's thread and raises the Warning itself.
  // on_unavailable set: a lazy watch (policy.lockWatchAfter) reporting a late open failure there.
  Status StartWatch(MigrationWatch* watch, int pid, std::function<void()> cancel, bool warn = true,
                    std::function<void(const Status&)> on_unavailable = nullptr);

  // The error of a step that did not run because policy.blockedSessionLimit needs the watch.
  Status WatchRequired(const Status& watch_error) const;

  bool NeedsRollout();

  // GitOps bumped first (pass_hold.cc): when the workload already declares the target image while
  // migrations are pending, its rollout is held (WorkloadRuntime::HoldRollout) right after
  // pre-flight, before the gates (an upgrade waiting for approval or a window holds it meanwhile),
  // and asserted again under the migration lock (the plan observed there may differ); at most once
  // per pass. The setting it had is recorded in status.rolloutHold first, so a controller killed
  // while holding releases it on a later pass. ReleaseRollout gives the setting back once nothing
  // is pending (before the bump and verify); a failed migration keeps it held.
  StepOutcome HoldRollout();
  StepOutcome ReleaseRollout();

  StepOutcome Bump();

  StepOutcome Verify();

  // Expand/contract (pass_contract.cc, docs/expand-contract.md): after Verify, the contract
  // migrations of the plan run once no instance of the old image remains (OldInstances), the soak
  // policy.contract.after since the verified bump (status.contractAfter) is over (else Waiting in
  // phase Soaking, requeued at that time) and, with policy.contract.approvalRequired, the contract
  // hash is approved. They run through Migrate() under the migration lock (phase Contracting).
  // Succeeded at once for plans without contract migrations.
  StepOutcome Contract();

  // Instances of the workload that do not run the target image ("" when none), as the runtime
  // sees them (WorkloadRuntime::RunningInstances), naming them; an error when it cannot be asked.
  Result<std::string> OldInstances();

  void Succeed();

  // policy.stepThrough (path_step.h): the step's release is migrated, bumped and verified: recorded
  // in status.upgradePath.done, the audit log and an event; the pass reports it in
  // out_.path_step_reached so the caller runs the next step at once.
  void StepReached();
  // Records the start of a step (status.upgradePath.step and .stepStartedAt, an audit row) before
  // its first change; once per step (a resumed step is not started again).
  void StartStep();
  // The release of the path this pass works towards, as status.upgradePath.step and the approval
  // message name it: the step's release, or the target once a release of the path was reached;
  // "" off a path.
  std::string PathRelease() const;
  // Names PathRelease() in status.upgradePath.step (saved with the pass's next write): a step is
  // named as soon as it is planned, so also while it waits at a gate (its approval, a window).
  void NamePathStep();

  // A permanent failure at `reason`: carry out policy.onFailure once, then stay Failed.
  StepOutcome OnFailure(const Status& failure, const std::string& reason);
  // The end of OnFailure (also of a resumed rollback): status.failureAction, attempts, the
  // on-failure audit row (once: not again when `seen` holds it), status.undo cleared; Failed.
  StepOutcome EndFailure(const Status& failure, const std::string& reason, std::string action,
                         const UndoSeen* seen = nullptr);

  // ---- an interrupted onFailure rollback (pass_undo.cc, status.undo) ----
  // Records status.undo and saves it before the combined rollback changes anything.
  void BeginUndo(const Status& failure, const std::string& reason);
  // Records a finished step of the rollback in status.undo ("image", "schema", "image-failed",
  // "schema-failed") with its sentence, and saves it.
  void UndoStepDone(const std::string& step, const std::string& result);
  bool UndoDone(const std::string& step) const;
  // A pass that finds status.undo of this spec resumes the rollback (after Observe, before
  // anything else): the steps the audit log shows committed are not run again, the rest are, and
  // the resource ends Failed as the uninterrupted rollback would have left it. When the world
  // disagrees with the record (another image declared, the database not at the pre-upgrade
  // version although the schema step committed, the audit log unreadable) it does nothing more
  // and says so (Failed, RollbackStateMismatch); a transient read error is retried.
  StepOutcome ResumeUndo();
  // The rows of this rollback in the audit log (the public one, and the engine's for its downs).
  Result<UndoSeen> ReadUndoSeen() const;

  // Each undo step returns what it did as a value (undo.h); .message is the failureAction sentence.
  UndoOutcome RollbackImage();

  // After rollbackImage: waits (at most kRollbackRolloutWait, stopping on shutdown) for the old
  // image's rollout where it runs on its own (the Verifier says kGated while it progresses);
  // returns how it ended, to append to failureAction ("" when it came up at once).
  std::string RollbackRollout();

  // onFailure restoreBackup (pass_restore.cc): refuses over writes made since the backup unless
  // policy.restoreBackup.allowDataLoss, takes its locks under the policy's lock_timeout with the
  // blocked-session watch on, retried until policy.lockWait, and says what it waited for.
  UndoOutcome RestoreBackup();
  // The backup tool of this resource: d_.make_backup's (made once per pass) or d_.backup; an error
  // when none is configured or the factory refuses the resource.
  Result<BackupTool*> Tool();

  // kRefused (a missing down file, before any ran) or kFailed with changed_nothing: the caller
  // may restore a backup instead.
  // undone_before: versions an interrupted run of this rollback already rolled back (the audit
  // log's down rows), counted in the sentence and in whether anything changed.
  UndoOutcome RunDown(const std::vector<std::string>& undone_before = {});

  // onFailure rollback: the image back to the one before this upgrade (RollbackImage), then the
  // schema back to the pre-upgrade version (RunDown when every applied migration has a down file,
  // else RestoreBackup), in that order; the schema is left alone when the image could not be
  // restored. Each step in the audit log; decided on the steps' UndoOutcome kinds, never on their
  // sentences; .message is the sentence for status.failureAction.
  CombinedRollback Rollback();

  // Writes a controller audit row (backup, bump, restore...); best effort, never fails the pass.
  void Audit(const std::string& direction, const std::string& status, const std::string& detail,
             const std::string& error = "");

  ReconcilerDeps& d_;
  const SchemaUpgrade& su_;
  ReconcileOptions opt_;
  Clock::TimePoint now_;
  PathStepChoice path_;        // stepping: su_ is aimed at path_.step
  std::string final_target_;   // spec.targetVersion (status.targetVersion)
  ResourceStatus st_;
  // The status as stored (loaded, or last saved by this pass): Save() writes only when st_ differs
  // from it in more than the timestamps (SameStatusContent).
  std::optional<ResourceStatus> stored_;
  ReconcileOutcome out_;
  std::string dsn_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<BackupTool> backup_tool_;  // from d_.make_backup, made on first use
  std::optional<MigrationLock> lock_;  // held from Lock() to the end of Migrate(); after db_: released first
  std::string declared_image_;
  std::string target_image_;
  std::string db_identity_;  // "<system identifier>/<database name>", part of the plan hash
  Plan plan_;
  bool bump_checked_ = false;   // Preflight ran PreflightBump for target_image_
  bool image_present_ = false;  // and found the image in local storage
  bool no_save_ = false;  // the stored status could not be read: do not overwrite it
  bool changed_ = false;  // this pass applied, bumped or rolled out something
  bool hold_asserted_ = false;  // HoldRollout held the rollout in this pass
  bool contract_run_ = false;   // Migrate() runs the contract migrations (Contract() set it)
  std::optional<UndoSeen> undo_seen_;  // ResumeUndo: what the audit log holds of the rollback
  std::mutex blocked_mu_;
  std::vector<BlockedSession> blocked_;
};

}  // namespace su::reconcile_internal
