// Reconciler: one level-based pass over one SchemaUpgrade, controller-runtime style.
//
// Each pass observes the world (migration history through the engine, declared and running image
// through the workload runtime, its own stored status), then does the next missing step:
//   gates (drift, lint, dry-run, approval, window) -> backup -> migrate -> bump -> verify -> done
// and writes status after every step. Nothing is remembered only in memory: a pass killed at any
// instant is safe to repeat, and the next pass converges (migrations are applied once because the
// history is re-read under the migration lock; the bump is applied once because the declared image
// is re-read). The migration lock is taken before the backup, and the world observed again under
// it, so of two runs the one that waited sees what the other did. Failures are split in two:
//   - transient (database unreachable, lock busy, lock_timeout, cancelled to unblock traffic):
//     retried with the policy's exponential backoff (capped at retries.max) for as long as they
//     last; past retries.limit attempts the resource is Stalled=True (RetriesExhausted) for alerts
//     but keeps being retried, and never goes Failed for it. onFailure never runs for them. A
//     resource Succeeded at its target stays Succeeded with Ready=Unknown while its database or
//     workload cannot be observed; status keeps the last observed version and image (observedAt);
//   - permanent (a migration's SQL failed, the new version did not come up, bad input, refused
//     gate): policy.onFailure is carried out once, the resource goes Failed with Stalled=True and
//     stays so until its spec changes or someone asks again (`schema-upgrade apply`, or a new
//     value in the olympus.io/retry annotation).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api/spec.h"
#include "api/status.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "reconcilers/database/backup.h"
#include "reconcilers/database/database.h"
#include "reconcilers/database/restore.h"
#include "reconcilers/engines/engine.h"
#include "reconcilers/runtimes/runtime.h"
#include "reconcilers/schemaupgrade/dependencies.h"
#include "reconcilers/schemaupgrade/observation_cache.h"
#include "reconcilers/schemaupgrade/outcome.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "reconcilers/schemaupgrade/secret_resolver.h"
#include "reconcilers/schemaupgrade/secret_writer.h"
#include "reconcilers/schemaupgrade/status_store.h"

namespace su {

inline constexpr const char* kRetryAnnotation = "olympus.io/retry";

using Connector = std::function<Result<std::unique_ptr<Database>>(const std::string& dsn, const std::string& app)>;
// Builds the engine for a resource; target_image is what the ory engine runs migrations with.
using EngineFactory =
    std::function<Result<std::unique_ptr<Engine>>(const SchemaUpgrade& su, const std::string& dsn,
                                                  const std::string& target_image)>;
// Checks that the workload runs `image` and stays up for `settle`; the error says why not. For a
// rollout that runs on its own (Kubernetes) and is still progressing, kGated ("in progress: ...")
// after a bounded wait: the pass waits (RolloutInProgress) and looks again. kUnavailable: the
// workload could not be observed (retried); kConflict: it now declares another image (retried,
// re-planned); anything else is the verdict that the new version failed (onFailure).
using Verifier = std::function<Status(WorkloadRuntime* rt, const WorkloadRef& w, const std::string& image,
                                      std::chrono::milliseconds settle, Clock* clock)>;

class BackupTool {
 public:
  virtual ~BackupTool() = default;
  virtual Result<BackupFile> Backup(const std::string& dsn, const std::string& path) = 0;
  // Restores path (see restore.h); a report with restored == false: refused, nothing changed.
  virtual Result<RestoreReport> Restore(const std::string& dsn, const std::string& path,
                                        const RestoreOptions& options) = 0;
  // Where the tool keeps this resource's backups when it decides that itself, somewhere the
  // controller's file system does not reach (a Kubernetes claim: "pvc://<claim>/<subPath>"). The
  // pass then writes backups there, does not create the folder or look for a recorded file on its
  // own file system, and leaves retention to the tool (Backup prunes; BackupFile::pruned).
  // "" (local tools): the policy's folder on the controller's file system.
  virtual std::string RemoteFolder() const { return ""; }
};
// pg_dump / pg_restore through runner.
std::unique_ptr<BackupTool> NewPgBackupTool(ProcessRunner* runner);
// A backup tool bound to one resource (Kubernetes: Jobs in its namespace mounting its claim).
using BackupToolFactory = std::function<Result<std::unique_ptr<BackupTool>>(const SchemaUpgrade& su)>;

// Watches for sessions blocked behind the migration while it runs (see lock_watch.h).
class MigrationWatch {
 public:
  virtual ~MigrationWatch() = default;
  // Starts watching sessions blocked by backend `pid` of `db`'s database; on_blocked gets the list
  // at every poll; when a session has waited on its lock longer than limit (0: never), cancel() is
  // called. The watch's own session is opened before Start returns: an error (kUnavailable, e.g.
  // the role's CONNECTION LIMIT is reached) means nothing is being watched.
  virtual Status Start(int pid, std::chrono::milliseconds limit,
                       std::function<void(const std::vector<BlockedSession>&)> on_blocked,
                       std::function<void()> cancel) = 0;
  virtual void Stop() = 0;
  // True when the last Stop() followed a cancel() by the watch.
  virtual bool Cancelled() const = 0;

  // A lazy Start: returns at once without a session of its own; the session is opened only when a
  // statement has been running (StatementStarted() with no StatementsDone() since) for open_after,
  // so short migrations cost one session. When that open fails, on_unavailable is called once,
  // from the watch's thread, while the statement still runs (the caller decides: cancel it, or
  // warn and go on). The default opens the session now (Start), for watches that cannot wait.
  virtual Status StartLazy(int pid, std::chrono::milliseconds limit, std::chrono::milliseconds open_after,
                           std::function<void(const std::vector<BlockedSession>&)> on_blocked,
                           std::function<void()> cancel, std::function<void(const Status&)> on_unavailable) {
    (void)open_after;
    (void)on_unavailable;
    return Start(pid, limit, std::move(on_blocked), std::move(cancel));
  }
  // The watched session starts a statement (or a batch of them) / has none running.
  virtual void StatementStarted() {}
  virtual void StatementsDone() {}
};
using WatchFactory = std::function<std::unique_ptr<MigrationWatch>(const std::string& dsn)>;

struct ReconcilerDeps {
  Clock* clock = RealClock();
  FileSystem* fs = LocalFileSystem();
  StatusStore* store = nullptr;   // required
  Connector connect;              // required: the pass's own session (pooled in the controller)
  // Call `connect` on a thread of its own while the pass reads the workload and stamps the
  // source (the CLI: a fresh SCRAM session each run). `connect` must then be thread-safe.
  bool connect_in_background = false;
  // A pass that changed the database (migrations applied, image bumped) and ended at its target
  // observes once more and leaves that in `observations`, so the next run (the CLI's next apply:
  // a new process) finds it instead of reading everything. The controller leaves it to its next
  // pass.
  bool observe_after_change = false;
  // Sessions a pass opens besides its own (the restore's watch and cancel sessions). Never from a
  // pool: a pass that holds a pooled session must not wait for a second one. Empty: connect.
  Connector connect_aux;
  EngineFactory make_engine;      // required
  WorkloadRuntime* workloads = nullptr;  // null: no bump or verify (migrations only)
  Verifier verify;                // required when workloads is set
  BackupTool* backup = nullptr;   // required when a policy enables backups
  // Set: each pass that backs up or restores takes its tool from here instead of `backup`.
  BackupToolFactory make_backup;
  WatchFactory watch;             // may be empty: no blocked-session watch
  // Where DSNs come from. null: dsnFrom.env/file through fs and getenv (NewLocalSecretResolver).
  SecretResolver* secrets = nullptr;
  std::function<const char*(const char*)> getenv;  // only when secrets is null; empty: ::getenv
  // Secrets the controller makes (Kubernetes): the ory rehearsal's copy DSN, for a migrator Job
  // that reads its DSN from a Secret (spec.database.dsnFrom.secretKeyRef). null: such an ory
  // rehearsal is skipped, and the rehearsal says why.
  SecretWriter* secret_writer = nullptr;
  std::string default_backup_dir = "./.state/backups";
  std::function<bool()> cancelled;                   // SIGTERM: stop between steps
  std::function<void(const Progress&)> on_progress;  // migration progress
  // A notable event for a resource (Kubernetes Event / log line): type Normal|Warning.
  std::function<void(const std::string& key, const std::string& type, const std::string& reason,
                     const std::string& message)> on_event;
  // What the last pass of each resource at its target observed (observation_cache.h): a pass
  // that finds nothing changed costs one round trip. null: every pass observes fully (apply, plan).
  ObservationCache* observations = nullptr;
  // The other SchemaUpgrades (their desired state), for spec.dependsOn: their readiness is read
  // from `store`. null: none is known (a resource with dependsOn waits for ever).
  ResourceLookup* resources = nullptr;
  // Sessions blocked behind a running migration, at every watch poll (metrics). May be empty.
  std::function<void(const std::string& key, const std::vector<BlockedSession>& blocked)> on_blocked;
  // A running backfill's progress after every batch (metrics); null progress once the migrate
  // step that ran it ended (its series are removed). May be empty.
  std::function<void(const std::string& key, const BackfillProgress* progress)> on_backfill;
  // The rehearsal on a copy (policy.rehearse, `plan --rehearse`). Empty: Rehearse() of
  // reconcilers/rehearsal (tests put a fake here).
  std::function<RehearsalReport(Engine*, const std::string& dsn, const RehearsalOptions&, const RunContext&)> rehearse;
};

struct ReconcileOptions {
  bool force = false;      // ignore a pending backoff and a Stalled failure (an explicit "try again")
  bool dry_run = false;    // plan and report only, whatever the policy says; status is not saved
  bool rehearse = false;   // with dry_run: also rehearse the plan on a scratch copy (`plan --rehearse`)
  // A resource with no stored status gets the Pending status (status_seed.h) saved before the
  // pass connects anywhere (the controller: nobody sees a resource without status meanwhile).
  bool seed_status = false;
};

struct ReconcileOutcome {
  ResourceStatus status;
  // How the pass ended (outcome.h): switch on this, not on result's code.
  OutcomeKind kind = OutcomeKind::kSucceeded;
  std::string reason;                     // why it stopped (api/conditions.h); empty when succeeded
  // The error of this pass: ok when succeeded; kGated with the message when waiting (what
  // `apply`'s exit code 4 means); the failure when retrying or failed.
  Status result;
  std::chrono::milliseconds requeue_after{0};  // > 0: run again after this long
  bool terminal = false;                  // nothing more will happen until the spec changes
  std::optional<Plan> plan;               // the plan of this pass, when observation got that far
  int migrations_applied = 0;             // migrations this pass applied (status.applied spans passes)
  // policy.stepThrough: the spec.upgradePath release this pass reached and verified (not the
  // target): Reconcile runs the next step at once ("" otherwise).
  std::string path_step_reached;
  // The first status save of this pass that failed (state dir not a folder, disk full, read-only):
  // the stored status is stale, which a one-shot run must report as a failure.
  Status save_error;
};

class Reconciler {
 public:
  explicit Reconciler(ReconcilerDeps deps);
  ReconcileOutcome Reconcile(const SchemaUpgrade& su, const ReconcileOptions& options = {});

 private:
  ReconcilerDeps deps_;
};

// Backoff for the n-th consecutive transient failure (n >= 1): initial * 2^(n-1), capped at max.
std::chrono::milliseconds BackoffFor(const RetryPolicy& p, int n);

// Image references are compared with SameImage() from runtimes/image_ref.h.

}  // namespace su
