// Pass: the steps of a reconcile pass: observe, gates, backup, migrate, bump, verify, succeed
// (see pass.h and reconciler.h).
#include "reconcilers/schemaupgrade/lint_live.h"
#include "reconcilers/schemaupgrade/pass.h"

#include <cstdlib>
#include <future>
#include <optional>
#include <mutex>
#include <thread>

#include "reconcilers/base/crash_point.h"
#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/database/backup_files.h"
#include "reconcilers/base/log.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/schemaupgrade/window.h"

namespace su::reconcile_internal {

// ---- steps ----
std::string Pass::ApprovalRecord() const {
  std::string r = su_.policy.approved_plan_hash + "|" + target_image_ + "|";
  for (const auto& m : plan_.state.pending) r += m.version + ":" + m.checksum + ":" + m.down_checksum + ",";
  return r;
}

void Pass::RecordApproval() {
  if (st_.approved_plan.rfind(su_.policy.approved_plan_hash + "|" + target_image_ + "|", 0) == 0) return;
  std::string record = ApprovalRecord();
  const auto bar = st_.approved_plan.rfind('|');
  const std::string earlier = bar == std::string::npos ? "" : st_.approved_plan.substr(bar + 1);
  size_t at = 0;
  while (at < earlier.size()) {
    size_t comma = earlier.find(',', at);
    if (comma == std::string::npos) comma = earlier.size();
    const std::string item = earlier.substr(at, comma - at);
    at = comma + 1;
    const std::string version = item.substr(0, item.find(':'));
    bool pending = false;
    for (const auto& m : plan_.state.pending) pending |= m.version == version;
    if (!item.empty() && !pending) record += item + ",";
  }
  st_.approved_plan = record;
}

// True when this pass finishes an upgrade that started under the manifest's approval: same
// approval, same image, and every remaining migration (up and down file) was in the approved
// plan, unchanged.
bool Pass::ResumesApprovedPlan() const {
  if (st_.approved_plan.empty() || su_.policy.approved_plan_hash.empty()) return false;
  std::string prefix = su_.policy.approved_plan_hash + "|" + target_image_ + "|";
  if (st_.approved_plan.rfind(prefix, 0) != 0) return false;
  std::string items = "," + st_.approved_plan.substr(prefix.size());
  for (const auto& m : plan_.state.pending) {
    if (items.find("," + m.version + ":" + m.checksum + ":" + m.down_checksum + ",") == std::string::npos) return false;
  }
  return true;
}

std::vector<PendingMigration> Pass::ReviewedDowns() const {
  std::vector<PendingMigration> out = plan_.state.pending;
  auto bar = st_.approved_plan.rfind('|');
  if (bar == std::string::npos) return out;
  std::string items = st_.approved_plan.substr(bar + 1);
  size_t at = 0;
  while (at < items.size()) {
    size_t comma = items.find(',', at);
    if (comma == std::string::npos) comma = items.size();
    std::string item = items.substr(at, comma - at);
    at = comma + 1;
    auto c1 = item.find(':'), c2 = item.rfind(':');
    if (c1 == std::string::npos || c2 == c1) continue;
    PendingMigration m;
    m.version = item.substr(0, c1);
    m.checksum = item.substr(c1 + 1, c2 - c1 - 1);
    m.down_checksum = item.substr(c2 + 1);
    bool known = false;
    for (const auto& x : out) known |= x.version == m.version;
    if (!known) out.push_back(std::move(m));
  }
  return out;
}

Result<std::optional<Clock::TimePoint>> Pass::WindowClosedUntil() const {
  if (!su_.policy.window) return std::optional<Clock::TimePoint>();
  auto w = CheckWindow(*su_.policy.window, d_.clock->Now());  // wall clock: windows are local times
  if (!w.ok()) return w.status();
  if (w->open) return std::optional<Clock::TimePoint>();
  return std::optional<Clock::TimePoint>(w->next_open);
}

StepOutcome Pass::WaitForWindow(Clock::TimePoint next_open, const std::string& what) {
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_open - d_.clock->Now());
  st_.next_retry_at = FormatTime(next_open);
  return StepOutcome::Waiting(reasons::kOutsideMaintenanceWindow,
                              what + "outside the maintenance window; it opens at " + FormatTime(next_open),
                              std::max(wait, std::chrono::milliseconds(1000)));
}

std::string EngineAuditSchema(const SchemaUpgrade& su) {
  return su.migrations.engine == "sql" && !su.migrations.schema.empty() ? su.migrations.schema : "public";
}

constexpr const char* kIdentitySql =
    "SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()";

// The database the plan is for: "<system identifier>/<database name>". The system identifier
// tells clusters apart (a copy made from production's base backup shares it; the name and the
// current version, also hashed, usually do not); "?/<name>" when pg_control_system() is not
// allowed for the role, "" when nothing can be read.
static std::string DatabaseIdentity(Database* db) {
  auto r = db->Query(kIdentitySql);
  if (r.ok() && !r->rows.empty()) return r->Get(0, 0) + "/" + r->Get(0, 1);
  auto name = db->Query("SELECT current_database()");
  if (name.ok() && !name->rows.empty()) return "?/" + name->Get(0, 0);
  return "";
}

StepOutcome Pass::CheckStalledOrBackoff() {
  if (opt_.force || opt_.dry_run) return StepOutcome::Succeeded();
  const Condition* stalled = FindCondition(st_, condition::kStalled);
  // RetriesExhausted never stops retrying (a transient cause goes away by itself); a status
  // written as Failed/RetriesExhausted by an older version is therefore retried too.
  // DependencyCycle too: another member's edit breaks the cycle without touching this spec.
  // InvalidDatabaseSource is looked at again on every pass (a resync or a watch event, never a
  // hot loop: it requeues nothing): the Secret, variable or file it names may exist by now, and
  // looking costs no connection while it does not.
  if (st_.phase == Phase::kFailed && stalled && stalled->status == condition_status::kTrue &&
      stalled->reason != reasons::kRetriesExhausted && stalled->reason != reasons::kInvalidDatabaseSource &&
      stalled->reason != reasons::kDependencyCycle) {
    return StepOutcome::Failed(Status::Failed(st_.last_error), stalled->reason);
  }
  Clock::TimePoint at;
  if (!st_.next_retry_at.empty() && ParseTime(st_.next_retry_at, &at) && at > now_) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(at - now_);
    // next_retry_at is a wall-clock timestamp (it must survive a restart). A retry backoff is at
    // most BackoffFor(attempts) long when written: more left than that means the wall clock
    // stepped back since, and the wait (measured by the caller on the monotonic clock) is over.
    // A window wait (phase Waiting) is wall time by definition and is kept.
    if (st_.phase != Phase::kWaiting && st_.attempts > 0 &&
        remaining > BackoffFor(su_.policy.retries, st_.attempts)) {
      LogWarn("clock.stepped_back", {{"resource", su_.Key()}, {"next_retry_at", st_.next_retry_at},
                                     {"now", FormatTime(now_)}});
      return StepOutcome::Succeeded();
    }
    const Condition* ready = FindCondition(st_, condition::kReady);  // its reason: why it backs off
    StepOutcome o = StepOutcome::RetryAfter(Status::Error(Code::kUnavailable, "backing off until " + st_.next_retry_at),
                                            ready ? ready->reason : "");
    o.after = remaining;
    return o;
  }
  return StepOutcome::Succeeded();
}

StepOutcome Pass::Observe() {
  Result<std::string> dsn = Status::Invalid("no secret resolver");
  if (d_.secrets) {
    dsn = d_.secrets->ResolveDsn(su_);
  } else {
    dsn = NewLocalSecretResolver({d_.fs, d_.getenv, ""})->ResolveDsn(su_);
  }
  if (!dsn.ok()) {
    // The source cannot be read right now (the API server is unreachable): retried with backoff.
    if (dsn.status().code() == Code::kUnavailable) return StepOutcome::RetryAfter(dsn.status(), reasons::kInvalidDatabaseSource);
    return StepOutcome::Failed(dsn.status(), reasons::kInvalidDatabaseSource);
  }
  dsn_ = *dsn;
  auto use_session = [&](Result<std::unique_ptr<Database>> db) -> std::optional<StepOutcome> {
    if (!db.ok()) {
      // A malformed DSN does not heal by retrying: bad input, named by its manifest field.
      if (db.status().code() == Code::kInvalidArgument) {
        return StepOutcome::Failed(db.status().WithContext(SourceOf(su_) + ": spec.database.dsnFrom"),
                                   reasons::kInvalidDatabaseSource);
      }
      return StepOutcome::RetryAfter(db.status(), reasons::kDatabaseUnavailable);
    }
    db_ = std::move(db).value();
    return std::nullopt;
  };
  // With connect_in_background (the CLI's one fresh session a run) the session is opened on
  // another thread while this one reads the workload and stamps the source: a SCRAM handshake and
  // a stat of 5000 files cost about the same. Errors keep the serial order: before any later
  // step's error is returned, the session's own is (session_error).
  const std::string app = "schema-upgrade:" + su_.Key();
  std::future<Result<std::unique_ptr<Database>>> connecting;
  if (d_.connect_in_background) {
    connecting = std::async(std::launch::async, [connect = d_.connect, dsn = dsn_, app] { return connect(dsn, app); });
  } else if (auto failed = use_session(d_.connect(dsn_, app))) {
    return *failed;
  }
  auto session_error = [&]() -> std::optional<StepOutcome> {
    if (!connecting.valid()) return std::nullopt;
    return use_session(connecting.get());
  };

  if (d_.workloads && !su_.workload.kind.empty()) {
    auto declared = d_.workloads->DeclaredImage(su_.workload);
    if (!declared.ok()) {
      if (auto o = session_error()) return *o;
      if (Transient(declared.status())) return StepOutcome::RetryAfter(declared.status(), reasons::kWorkloadUnavailable);
      return StepOutcome::Failed(declared.status(), reasons::kWorkloadInvalid);
    }
    declared_image_ = *declared;
  }
  target_image_ = TargetImage(su_, declared_image_);
  st_.image = declared_image_;

  auto engine = d_.make_engine(su_, dsn_, target_image_);
  if (!engine.ok()) {
    if (auto o = session_error()) return *o;
    return StepOutcome::Failed(engine.status(), reasons::kInvalidMigrations);
  }
  engine_ = std::move(engine).value();
  // An upgrade-path step from a folder on the controller: only the migrations its release needs.
  if (path_.stepping) engine_ = CapPendingAt(std::move(engine_), path_.step.migrations_up_to);

  // The source's stamp is taken before anything is read, so a change while this pass reads is
  // seen by the next one.
  std::string source_stamp;
  const std::string mark_sql = d_.observations ? engine_->HistoryMarkSql() : "";
  if (!mark_sql.empty()) {
    auto stamp = engine_->SourceStamp();
    if (stamp.ok()) source_stamp = *stamp;
  }
  if (auto o = session_error()) return *o;
  // Rows left "running" by a killed run are closed on every pass, not only when there is work:
  // the killed run's work may have been finished by a leftover migrator. The same round trip
  // reads the database's identity and, for the observation cache, the history's mark: a pass at
  // target with nothing changed costs this one round trip. When it fails (no audit or history
  // table yet, pg_control_system() not allowed) each is done on its own.
  std::string history_mark;
  if (!opt_.dry_run) {
    const std::string head = "WITH marked AS (" + AuditLog(db_.get()).MarkInterruptedSql() + " RETURNING 1) " +
                             kIdentitySql;
    auto r = db_->Query(source_stamp.empty() ? head : head + ", " + mark_sql);
    if (!r.ok() && !source_stamp.empty()) r = db_->Query(head);
    if (r.ok() && !r->rows.empty()) {
      db_identity_ = r->Get(0, 0) + "/" + r->Get(0, 1);
      if (r->columns.size() > 2) history_mark = r->Get(0, 2);
    } else {
      (void)AuditLog(db_.get()).MarkInterrupted();
    }
  }

  std::string digest, shared;
  std::optional<EngineState> cached;
  if (!history_mark.empty() && !db_identity_.empty()) {
    ObservationDigests(source_stamp, history_mark, &digest, &shared);
    if (auto hit = d_.observations->Find(su_.Key(), digest)) cached = *hit;
  }
  Result<EngineState> state = cached ? Result<EngineState>(std::move(*cached)) : engine_->Observe(db_.get());
  if (!state.ok()) {
    if (Transient(state.status())) return StepOutcome::RetryAfter(state.status(), reasons::kObserveFailed);
    // The ory engine plans with the target image itself: an image that cannot be had is that.
    if (su_.migrations.engine == "ory" && state.status().code() == Code::kNotFound) return ImageUnavailable(state.status());
    return StepOutcome::Failed(state.status(), reasons::kInvalidMigrations);
  }
  if (!cached) LiveLintFacts(*state);
  if (!cached && !digest.empty()) d_.observations->Put(su_.Key(), digest, shared, *state);
  if (db_identity_.empty()) db_identity_ = DatabaseIdentity(db_.get());
  UsePlan(BuildPlan(su_, std::move(*state), declared_image_, target_image_, db_identity_));
  return StepOutcome::Succeeded();
}

void Pass::ObservationDigests(const std::string& source_stamp, const std::string& history_mark, std::string* digest,
                              std::string* shared) const {
  *shared = Sha256Hex(source_stamp + "|" + history_mark + "|" + db_identity_);
  *digest = Sha256Hex(SpecToken(su_) + "|" + *shared);
}

void Pass::ObserveAfterChange() {
  if (!d_.observations || !engine_ || !db_ || db_identity_.empty()) return;
  const std::string mark_sql = engine_->HistoryMarkSql();
  if (mark_sql.empty()) return;
  // As in Observe: the stamp first, then the mark, then the reading they key.
  auto stamp = engine_->SourceStamp();
  if (!stamp.ok() || stamp->empty()) return;
  auto r = db_->Query(std::string(kIdentitySql) + ", " + mark_sql);
  if (!r.ok() || r->rows.empty() || r->columns.size() < 3) return;
  if (r->Get(0, 0) + "/" + r->Get(0, 1) != db_identity_) return;
  const std::string history_mark = r->Get(0, 2);
  if (history_mark.empty()) return;
  auto state = engine_->Observe(db_.get());
  if (!state.ok()) {
    LogWarn("observe_after_change.failed", {{"resource", su_.Key()}, {"error", state.status().message()}});
    return;
  }
  LiveLintFacts(*state);
  std::string digest, shared;
  ObservationDigests(*stamp, history_mark, &digest, &shared);
  d_.observations->Put(su_.Key(), digest, shared, *state);  // kept only when nothing is pending
}

void Pass::LiveLintFacts(EngineState& state) {
  Status s = AddLiveTableRows(db_.get(), state);
  // Only the ranking of findings depends on it: a plan without it is still right.
  if (!s.ok()) LogWarn("lint.live_facts_unavailable", {{"resource", su_.Key()}, {"error", s.message()}});
}

void Pass::UsePlan(Plan plan) {
  plan_ = std::move(plan);
  out_.plan = plan_;
  st_.current_version = plan_.db_version;
  st_.observed_at = FormatTime(d_.clock->Now());
  st_.plan_hash = plan_.hash;
  st_.pending.clear();
  for (const auto& m : plan_.state.pending) st_.pending.push_back(m.version);
}

StepOutcome Pass::CheckDependencyCycle() {
  if (su_.depends_on.empty()) return StepOutcome::Succeeded();
  std::vector<std::string> cycle = FindDependencyCycle(su_, d_.resources);
  if (cycle.empty()) return StepOutcome::Succeeded();
  return StepOutcome::Failed(
      Status::Invalid(SourceOf(su_) + ": spec.dependsOn: dependency cycle " + FormatCycle(cycle) +
                      ": none of these upgrades can ever start; remove one of the dependsOn entries of the cycle"),
      reasons::kDependencyCycle);
}

StepOutcome Pass::WaitForDependencies() {
  if (su_.depends_on.empty()) return StepOutcome::Succeeded();
  std::string waiting;
  for (size_t i = 0; i < plan_.dependencies.size(); ++i) {
    const DependencyState& d = plan_.dependencies[i];
    if (d.satisfied) continue;
    std::string what = d.exists ? "SchemaUpgrade " + d.key + " to be Ready at its target " + d.target + " (now: " +
                                      d.detail + ")"
                                : "SchemaUpgrade " + d.key + " (spec.dependsOn[" + std::to_string(i) +
                                      "].name), which does not exist; create it, or remove the entry";
    waiting += (waiting.empty() ? "" : "; and for ") + what;
  }
  if (waiting.empty()) return StepOutcome::Succeeded();
  return StepOutcome::Waiting(reasons::kWaitingForDependency, "waiting for " + waiting + "; nothing was changed",
                              kDependencyRecheck);
}

StepOutcome Pass::Gates() {
  // Recorded for `plan` even when there is nothing to do.
  plan_.dependencies = EvaluateDependencies(su_, d_.resources, d_.store);
  if (out_.plan) out_.plan->dependencies = plan_.dependencies;
  if (plan_.HasUnacceptedDrift()) {
    std::string v;
    for (const auto& d : plan_.state.drift) {
      if (!d.accepted) v += (v.empty() ? "" : ", ") + d.version;
    }
    return StepOutcome::Failed(Status::Error(Code::kGated, "applied migration(s) " + v +
                                                 " changed since they ran (checksum drift); restore the original "
                                                 "file(s), or list the version(s) in spec.policy.acceptDrift"),
                 reasons::kChecksumDrift);
  }
  bool work = !plan_.UpToDate() || NeedsRollout();
  if (!work) return StepOutcome::Succeeded();
  if (su_.policy.fail_on_lint_errors && plan_.LintErrors() > 0) {
    return StepOutcome::Failed(Status::Error(Code::kGated, std::to_string(plan_.LintErrors()) +
                                                 " lint error(s) in pending migrations (see `schema-upgrade plan`); "
                                                 "fix them or set policy.failOnLintErrors: false"),
                 reasons::kLintErrors);
  }
  if (opt_.dry_run) return StepOutcome::Succeeded();  // the caller only wants the plan
  if (su_.policy.dry_run) {
    return StepOutcome::Waiting(reasons::kDryRun, "dry run: plan " + plan_.hash + " has " + std::to_string(plan_.steps.size()) +
                              " step(s); nothing was changed", std::chrono::milliseconds(0));
  }
  bool resumed_approval = ResumesApprovedPlan();
  if (su_.policy.approval_required && su_.policy.approved_plan_hash != plan_.hash && !resumed_approval) {
    // policy.stepThrough: each release of the path is its own plan, approved as it becomes current.
    const bool on_path = !PathRelease().empty();
    std::string why = su_.policy.approved_plan_hash.empty()
                          ? "plan " + plan_.hash + " needs approval"
                      : on_path ? "plan " + plan_.hash + " of this step needs its own approval (the approved plan " +
                                      su_.policy.approved_plan_hash + " is another step's, or changed)"
                                : "the approved plan " + su_.policy.approved_plan_hash + " is not the current plan " +
                                      plan_.hash + " (the plan changed)";
    std::string step;
    if (on_path) {
      const std::string origin = !st_.start_image.empty() ? RunningRelease(st_.start_image) : path_.running;
      std::string path = origin.empty() ? "" : origin + " -> ";
      for (const auto& d : st_.path_done) path += d + " -> ";
      const std::string current = PathRelease();  // also status.upgradePath.step (NamePathStep)
      path += current;
      for (const auto& a : path_.after) path += " -> " + a;
      step = " (step " + current + " of the upgrade path " + path +
             ": each release's plan needs its own approval once it is the current step)";
    }
    return StepOutcome::Waiting(reasons::kAwaitingApproval, why + step + ": review `schema-upgrade plan`, then run `schema-upgrade approve` or set "
                                          "spec.policy.approval.planHash: " + plan_.hash,
                std::chrono::milliseconds(0));
  }
  if (su_.policy.approval_required && !resumed_approval) RecordApproval();
  if (StepOutcome o = WaitForDependencies(); !o.ok()) return o;
  auto closed = WindowClosedUntil();
  if (!closed.ok()) return StepOutcome::Failed(closed.status(), reasons::kInvalidWindow);
  if (*closed) return WaitForWindow(**closed, "");
  return StepOutcome::Succeeded();
}

StepOutcome Pass::Lock() {
  if (plan_.state.pending.empty()) return StepOutcome::Succeeded();
  auto lock = MigrationLock::AcquireForDatabase(db_.get(), su_.policy.lock_wait, d_.clock);
  if (!lock.ok()) return StepOutcome::RetryAfter(lock.status(), lock.status().code() == Code::kLockBusy ? reasons::kLockBusy : reasons::kDatabaseUnavailable);
  lock_.emplace(std::move(lock).value());
  auto state = engine_->Observe(db_.get());
  if (!state.ok()) {
    if (Transient(state.status())) return StepOutcome::RetryAfter(state.status(), reasons::kObserveFailed);
    return StepOutcome::Failed(state.status(), reasons::kInvalidMigrations);
  }
  LiveLintFacts(*state);
  Plan now = BuildPlan(su_, std::move(*state), declared_image_, target_image_, db_identity_);
  if (now.hash == plan_.hash) return StepOutcome::Succeeded();
  LogInfo("plan.changed_under_lock", {{"resource", su_.Key()}, {"was", plan_.hash}, {"now", now.hash},
                                      {"pending", std::to_string(now.state.pending.size())}});
  UsePlan(std::move(now));
  // A new plan is checked and gated like the first one.
  if (StepOutcome o = Preflight(); !o.ok()) return o;
  return Gates();
}

Result<BackupTool*> Pass::Tool() {
  if (d_.make_backup) {
    if (!backup_tool_) {
      SU_ASSIGN_OR_RETURN(backup_tool_, d_.make_backup(su_));
    }
    return backup_tool_.get();
  }
  if (!d_.backup) return Status::Invalid("backups are enabled but no backup tool is configured");
  return d_.backup;
}

StepOutcome Pass::Backup() {
  if (plan_.state.pending.empty() || !su_.policy.backup_enabled) return StepOutcome::Succeeded();
  auto tool = Tool();
  if (!tool.ok()) return StepOutcome::Failed(tool.status(), reasons::kBackupFailed);
  const std::string remote = (*tool)->RemoteFolder();
  // One backup per upgrade: a pass resuming a started upgrade (whose remaining plan has another
  // hash) keeps the pre-upgrade backup rather than taking a mid-upgrade one. A remote file cannot
  // be looked at from here: its record is trusted (the tool wrote it and reported its size).
  if (st_.backup && (remote.empty() ? d_.fs->Exists(st_.backup->path) : st_.backup->path.rfind(remote + "/", 0) == 0) &&
      (st_.backup->plan_hash == plan_.hash || !st_.start_version.empty())) {
    return StepOutcome::Succeeded();
  }
  // The gates may have passed a while ago (pre-flight, a slow pass): the window must still be open.
  auto closed = WindowClosedUntil();
  if (!closed.ok()) return StepOutcome::Failed(closed.status(), reasons::kInvalidWindow);
  if (*closed) return WaitForWindow(**closed, "the window closed before the backup started; ");
  SetPhase(Phase::kBackingUp, "taking a pg_dump backup before migrating" +
                                  (remote.empty() ? std::string() : " (a Job writing to " + remote + ")"));
  CrashPoint("before-backup");
  std::string dir = !remote.empty() ? remote : su_.policy.backup_dir.empty() ? d_.default_backup_dir : su_.policy.backup_dir;
  if (remote.empty()) {
    Status mk = d_.fs->MakePrivateDirs(dir);  // a dump is the whole database: 0700, files 0600
    if (!mk.ok()) return StepOutcome::Failed(mk, reasons::kBackupFailed);
  }
  std::string stamp = FormatTime(d_.clock->Now());
  for (auto& c : stamp) if (c == ':') c = '-';
  std::string path = JoinPath(dir, BackupPrefix(su_.namespace_, su_.name) + plan_.hash + "_" + stamp + ".dump");
  // What "written since the backup" means for restoreBackup: transactions this snapshot does not see.
  auto snap = db_->Query("SELECT pg_current_snapshot()::text");
  if (!snap.ok()) return StepOutcome::RetryAfter(snap.status(), reasons::kDatabaseUnavailable);
  std::string snapshot = snap->rows.empty() ? "" : snap->Get(0, 0);
  auto b = (*tool)->Backup(dsn_, path);
  if (!b.ok()) {
    Audit("backup", "failed", path, b.status().ToString());
    if (Transient(b.status())) return StepOutcome::RetryAfter(b.status(), reasons::kBackupFailed);
    return StepOutcome::Failed(b.status(), reasons::kBackupFailed);
  }
  st_.backup = BackupRecord{b->path,   b->size_bytes, FormatTime(d_.clock->Now()), plan_.hash, snapshot,
                            /*rows_written_since=*/-1, plan_.db_version.empty() ? "0" : plan_.db_version};
  CrashPoint("after-backup");
  Audit("backup", "succeeded", b->path + " (" + std::to_string(b->size_bytes) + " bytes)");
  Event(event_type::kNormal, reasons::kBackedUp, "backup written to " + b->path);
  Save();
  if (remote.empty()) {
    PruneOldBackups(dir);
  } else {
    for (const auto& p : b->pruned) Audit("backup-pruned", "succeeded", p);
  }
  return StepOutcome::Succeeded();
}

void Pass::PruneOldBackups(const std::string& dir) {
  if (su_.policy.backup_retention <= 0 || !st_.backup) return;
  auto removed = PruneBackups(d_.fs, dir, BackupPrefix(su_.namespace_, su_.name), su_.policy.backup_retention,
                              st_.backup->path);
  if (!removed.ok()) {
    // Never a reason to stop an upgrade: the new backup is safe; the folder just keeps more.
    Event(event_type::kWarning, reasons::kBackupRetention, "old backups could not be removed: " + removed.status().ToString());
    return;
  }
  for (const auto& p : *removed) Audit("backup-pruned", "succeeded", p);
  if (!removed->empty()) {
    LogInfo("backup.pruned", {{"resource", su_.Key()}, {"removed", std::to_string(removed->size())},
                              {"keep", std::to_string(su_.policy.backup_retention)}});
  }
}

StepOutcome Pass::Migrate() {
  if (plan_.state.pending.empty()) return StepOutcome::Succeeded();
  // Expand/contract: before the bump only the expand migrations run (Contract() runs the rest).
  const bool phased = HasContractSteps(plan_.state.pending);
  const bool expand_only = phased && !contract_run_;
  const size_t expand = ExpandPrefix(plan_.state.pending);
  if (expand_only && expand == 0) return StepOutcome::Succeeded();
  if (d_.cancelled && d_.cancelled()) return StepOutcome::RetryAfter(Status::Error(Code::kCancelled, "stopping"), reasons::kCancelled);
  const bool starting = st_.start_version.empty();
  const size_t count = expand_only ? expand : plan_.state.pending.size();
  const std::string upto = plan_.state.pending[count - 1].version;
  if (contract_run_) {
    SetPhase(Phase::kContracting, "applying " + std::to_string(count) + " contract migration(s) up to " + upto +
                                      "; no instance of the old version remains");
  } else if (expand_only) {
    SetPhase(Phase::kExpanding, "applying " + std::to_string(count) + " expand migration(s) up to " + upto +
                                    " while the old version keeps serving; " +
                                    std::to_string(plan_.state.pending.size() - count) +
                                    " contract migration(s) follow once the new version is verified" +
                                    (st_.rollout_hold.empty() ? std::string()
                                                              : " (the rollout of " + su_.workload.name + " to " +
                                                                    target_image_ + " is held until then)"));
  } else {
    SetPhase(Phase::kMigrating, "applying " + std::to_string(plan_.state.pending.size()) + " migration(s) up to " +
                                    plan_.state.pending.back().version +
                                    (st_.rollout_hold.empty() ? std::string()
                                                              : " (the rollout of " + su_.workload.name +
                                                                    " to " + target_image_ + " is held until then)"));
  }
  if (!lock_) {  // Lock() takes it before the backup; this is a guard, not a path
    auto lock = MigrationLock::AcquireForDatabase(db_.get(), su_.policy.lock_wait, d_.clock);
    if (!lock.ok()) return StepOutcome::RetryAfter(lock.status(), lock.status().code() == Code::kLockBusy ? reasons::kLockBusy : reasons::kDatabaseUnavailable);
    lock_.emplace(std::move(lock).value());
  }
  AuditLog log(db_.get());
  if (Status s = log.Ensure(); !s.ok()) return StepOutcome::RetryAfter(s, reasons::kDatabaseUnavailable);
  (void)log.MarkInterrupted();
  if (starting) {
    // The audit log's record of where this upgrade starts: runDown undoes what was applied after
    // it, in reverse order of application (AuditLog::UpgradeApplied). Saved before anything runs.
    std::string from = plan_.db_version.empty() ? "0" : plan_.db_version;
    // In the table the engine writes its "up" rows to (the sql engine's lives in migrations.schema).
    const std::string schema = EngineAuditSchema(su_);
    AuditLog engine_log(db_.get(), schema);
    Status s = schema == "public" ? Status::Ok() : db_->Exec("CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(schema));
    if (s.ok()) s = engine_log.Ensure();
    if (s.ok()) s = engine_log.MarkUpgradeStart(su_.Key(), "database at " + from + ", target " + su_.target_version);
    if (!s.ok()) return StepOutcome::RetryAfter(s, reasons::kDatabaseUnavailable);
    st_.start_version = from;
    Save();
  }

  RunContext ctx;
  ctx.resource = su_.Key();
  ctx.actor = CurrentActor();
  ctx.lock_timeout = su_.policy.lock_timeout;
  ctx.statement_timeout = su_.policy.statement_timeout;
  ctx.accept_drift = su_.policy.accept_drift;
  ctx.clock = d_.clock;
  // Apply exactly what passed the gates: the engine re-reads under the lock and stops if it differs.
  ctx.approved = plan_.state.pending;
  ctx.expand_only = expand_only;
  // No migration starts outside the window, also when it closed during the backup or the previous one.
  std::optional<Clock::TimePoint> window_closed;  // set when it closed before a migration: when it opens
  ctx.before_migration = [&](const std::string&) -> Status {
    auto closed = WindowClosedUntil();
    if (!closed.ok()) return closed.status();
    if (!*closed) return Status::Ok();
    window_closed = **closed;
    // The engine's protocol: an error stops the run before this migration.
    return Status::Error(Code::kGated, "outside the maintenance window; it opens at " + FormatTime(**closed));
  };
  std::unique_ptr<MigrationWatch> watch;
  if (d_.watch) watch = d_.watch(dsn_);
  // A backfill's progress reaches status at most every 10 s (a status write is a PATCH or an fsync).
  std::optional<Clock::MonoTimePoint> backfill_saved;
  bool backfill_shown = false;  // on_backfill was told of one: tell it when the step ends
  ctx.on_progress = [this, w = watch.get(), &backfill_saved, &backfill_shown](const Progress& p) {
    if (p.event == Progress::Event::kBackfill) {
      st_.backfill = BackfillProgress{p.version,
                                      p.rows_done,
                                      p.rows_total,
                                      static_cast<long long>(p.rows_per_second),
                                      p.eta_seconds,
                                      FormatTime(d_.clock->Now())};
      if (d_.on_backfill) {
        backfill_shown = true;
        d_.on_backfill(su_.Key(), &*st_.backfill);
      }
      const auto now = d_.clock->MonotonicNow();
      if (!backfill_saved || now - *backfill_saved >= std::chrono::seconds(10)) {
        backfill_saved = now;
        Save();
      }
    }
    // The lazy watch opens its session only when a statement runs longer than policy.lockWatchAfter.
    if (w && p.event == Progress::Event::kStatement) w->StatementStarted();
    if (w && (p.event == Progress::Event::kMigrationDone || p.event == Progress::Event::kRetry)) w->StatementsDone();
    if (p.event == Progress::Event::kStatement) CrashPoint("statement");
    if (p.event == Progress::Event::kMigrationDone) CrashPoint("migration-done");
    if (d_.on_progress) d_.on_progress(p);
  };
  Database* raw = db_.get();
  int watched_pid = -1;
  // With policy.blockedSessionLimit the watch is what keeps a stuck migration from becoming an
  // outage: a migration never runs unwatched then (the engine stops before its next statement, and
  // the pass is retried); without a limit the watch only reports, so its absence is a Warning.
  // The watch's session opens lazily (policy.lockWatchAfter): when that late open fails, the
  // statement that needed it is cancelled under a limit (fail closed: it rolls back and the pass
  // is retried as LockWatchUnavailable), or runs on with a Warning without one.
  std::mutex watch_mu;
  Status watch_error;  // guarded by watch_mu (the lazy open reports from the watch's thread)
  auto watch_failed = [&watch_mu, &watch_error]() {
    std::lock_guard<std::mutex> l(watch_mu);
    return !watch_error.ok();
  };
  const bool watch_required = su_.policy.blocked_session_limit.count() > 0;
  ctx.cancelled = [this, watch_failed, watch_required] {
    return (watch_required && watch_failed()) || (d_.cancelled && d_.cancelled());
  };
  auto on_unavailable = [&watch_mu, &watch_error, watch_required, raw](const Status& s) {
    {
      std::lock_guard<std::mutex> l(watch_mu);
      if (watch_error.ok()) watch_error = s;
    }
    if (watch_required) (void)raw->Cancel();
  };
  ctx.on_session = [&](int pid) {
    // Engines report the session before every migration; restart the watch only when the
    // session changes.
    if (!watch || pid == watched_pid) return;
    watched_pid = pid;
    watch->Stop();
    Status s = StartWatch(watch.get(), pid, [raw] { (void)raw->Cancel(); }, /*warn=*/true, on_unavailable);
    if (!s.ok()) {
      std::lock_guard<std::mutex> l(watch_mu);
      if (watch_error.ok()) watch_error = s;
    }
  };
  if (watch) {
    ctx.on_session(db_->BackendPid());
    if (watch_failed() && watch_required) return StepOutcome::RetryAfter(WatchRequired(watch_error), reasons::kLockWatchUnavailable);
  }
  CrashPoint("before-migrate");
  // A stop request (SIGTERM) abandons the statement in flight: it is cancelled and its migration
  // rolls back, so the process can exit promptly; the next run applies it again.
  std::jthread stopper;
  if (d_.cancelled) {
    stopper = std::jthread([this, raw](std::stop_token st) {
      while (!st.stop_requested()) {
        if (d_.cancelled()) {
          (void)raw->Cancel();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  RunReport report = engine_->Apply(db_.get(), ctx);
  if (stopper.joinable()) {
    stopper.request_stop();
    stopper.join();
  }
  CrashPoint("after-migrate");
  bool watch_cancelled = false;
  bool late_watch_error = false;
  if (watch) {
    watch->Stop();  // joins the watch's thread: watch_error is ours alone from here
    watch_cancelled = watch->Cancelled();
    late_watch_error = !watch_error.ok() && su_.policy.lock_watch_after.count() > 0;
  }
  if (late_watch_error && !watch_required) {
    Event(event_type::kWarning, reasons::kLockWatchUnavailable,
          "a statement ran longer than policy.lockWatchAfter (" + FormatDuration(su_.policy.lock_watch_after) +
              ") without the blocked-session watch (sessions blocked behind it were not reported): " +
              watch_error.message());
  }
  {
    std::lock_guard<std::mutex> l(blocked_mu_);
    st_.blocked_sessions = blocked_;
  }
  st_.backfill.reset();  // progress lives in the database; status shows it only while one runs
  if (backfill_shown) d_.on_backfill(su_.Key(), nullptr);
  if (d_.on_blocked) d_.on_blocked(su_.Key(), {});
  out_.migrations_applied += static_cast<int>(report.steps.size());
  for (const auto& s : report.steps) {
    st_.applied.push_back({s.version, s.name, s.duration_ms, FormatTime(d_.clock->Now())});
  }
  st_.applied_total += static_cast<int>(report.steps.size());
  if (st_.applied.size() > kMaxAppliedInStatus) {
    st_.applied.erase(st_.applied.begin(), st_.applied.end() - static_cast<long>(kMaxAppliedInStatus));
  }
  if (!report.steps.empty()) changed_ = true;
  ReobserveVersion();
  if (report.status.ok()) {
    st_.pending.clear();
    if (expand_only) {
      // The contract migrations are still to come (status.pending lists them).
      for (size_t i = count; i < plan_.state.pending.size(); ++i) st_.pending.push_back(plan_.state.pending[i].version);
    }
    Event(event_type::kNormal, contract_run_ ? reasons::kContracted : reasons::kMigrated,
          std::to_string(report.steps.size()) + (contract_run_ ? " contract" : expand_only ? " expand" : "") +
              " migration(s) applied");
    Save();
    return StepOutcome::Succeeded();
  }
  if (!watch_error.ok() && watch_required && !report.status.ok()) {
    return StepOutcome::RetryAfter(WatchRequired(watch_error), reasons::kLockWatchUnavailable);
  }
  if (watch_cancelled) {
    return StepOutcome::RetryAfter(Status::Error(Code::kCancelled,
                                                 "the migration was cancelled because sessions were blocked behind "
                                                 "it longer than policy.blockedSessionLimit (" +
                                                     FormatDuration(su_.policy.blocked_session_limit) + ")"),
                                   reasons::kBlockingTraffic);
  }
  if (report.plan_changed) {
    // Not a failure: the next pass plans again (and a changed plan waits for its own approval).
    st_.approved_plan.clear();
    return StepOutcome::Waiting(reasons::kPlanChanged, report.status.message(), std::chrono::milliseconds(1000));
  }
  if (window_closed) {
    std::string done = report.steps.empty() ? "" : std::to_string(report.steps.size()) + " migration(s) applied, then ";
    return WaitForWindow(*window_closed, done + "the window closed before the next migration; stopped ");
  }
  if (Transient(report.status)) return StepOutcome::RetryAfter(report.status, reasons::kMigrationRetryable);
  if (report.status.code() == Code::kGated) return StepOutcome::Failed(report.status, reasons::kChecksumDrift);
  if (report.retry_with_backoff) {
    // A migration Job that failed (Kubernetes): retried with the policy's backoff, like a Job's
    // backoffLimit, up to retries.limit times in a row; the next failure is permanent.
    const int limit = su_.policy.retries.limit;
    if (st_.attempts < limit) return StepOutcome::RetryAfter(report.status, reasons::kMigrationRetryable);
    return OnFailure(Status::Error(report.status.code(),
                                   "failed " + std::to_string(st_.attempts + 1) + " times in a row (policy.retries.limit " +
                                       std::to_string(limit) + " retries spent), now permanent: " +
                                       report.status.message()),
                     reasons::kMigrationFailed);
  }
  return OnFailure(report.status, reasons::kMigrationFailed);
}

void Pass::ReobserveVersion() {
  // The last step applied is not the database version after an out-of-order apply (1 and 3
  // applied, then 2): ask the engine, like plan does, so apply, status and plan agree.
  auto state = engine_->Observe(db_.get());
  if (!state.ok()) {
    LogWarn("reobserve.failed", {{"resource", su_.Key()}, {"error", Scrub(state.status().ToString())}});
    return;
  }
  st_.current_version = state->current_version;
  st_.observed_at = FormatTime(d_.clock->Now());
}

Status Pass::StartWatch(MigrationWatch* watch, int pid, std::function<void()> cancel, bool warn,
                        std::function<void(const Status&)> on_unavailable) {
  auto on_blocked = [this](const std::vector<BlockedSession>& b) {
    if (d_.on_blocked) d_.on_blocked(su_.Key(), b);
    std::lock_guard<std::mutex> l(blocked_mu_);
    if (!b.empty()) blocked_ = b;  // keep the last non-empty report for status
  };
  // Lazy only when the caller handles a late failure (migrations); a restore opens it now.
  Status s = on_unavailable ? watch->StartLazy(pid, su_.policy.blocked_session_limit, su_.policy.lock_watch_after,
                                               on_blocked, std::move(cancel), std::move(on_unavailable))
                            : watch->Start(pid, su_.policy.blocked_session_limit, on_blocked, std::move(cancel));
  if (warn && !s.ok() && su_.policy.blocked_session_limit.count() == 0) {
    Event(event_type::kWarning, reasons::kLockWatchUnavailable,
          "running without the blocked-session watch (sessions blocked behind it are not reported): " + s.message());
  }
  return s;
}

Status Pass::WatchRequired(const Status& watch_error) const {
  return Status::Error(Code::kUnavailable,
                       watch_error.message() + "; policy.blockedSessionLimit (" +
                           FormatDuration(su_.policy.blocked_session_limit) +
                           ") needs the watch, so nothing runs unwatched: free a connection for the database "
                           "role (or raise its CONNECTION LIMIT); the step is retried");
}

bool Pass::NeedsRollout() {
  if (!d_.workloads || su_.workload.kind.empty() || target_image_.empty()) return false;
  if (!SameImage(declared_image_, target_image_)) return true;
  auto ws = d_.workloads->Observe(su_.workload);
  return !ws.ok() || !ws->running || !SameImage(ws->image, target_image_);
}

StepOutcome Pass::Bump() {
  if (!d_.workloads || su_.workload.kind.empty() || target_image_.empty()) return StepOutcome::Succeeded();
  if (!SameImage(declared_image_, target_image_)) {
    if (d_.cancelled && d_.cancelled()) return StepOutcome::RetryAfter(Status::Error(Code::kCancelled, "stopping"), reasons::kCancelled);
    st_.previous_image = declared_image_;
    if (st_.start_image.empty()) st_.start_image = declared_image_;  // onFailure rollback's target
    SetPhase(Phase::kBumping, "changing the image from " + declared_image_ + " to " + target_image_);
    CrashPoint("before-set-image");
    // From what this pass read: if someone changed the image since, the bump is re-planned, not forced.
    Status s = d_.workloads->SetDeclaredImage(su_.workload, declared_image_, target_image_);
    CrashPoint("after-set-image");
    if (!s.ok()) {
      if (Transient(s)) return StepOutcome::RetryAfter(s, s.code() == Code::kConflict ? reasons::kWorkloadChanged : reasons::kBumpRetryable);  // onFailure is for permanent failures
      return OnFailure(s, reasons::kBumpFailed);
    }
    declared_image_ = target_image_;
    st_.image = target_image_;
    changed_ = true;
    Audit("bump", "succeeded", st_.previous_image + " -> " + target_image_);
    Event(event_type::kNormal, reasons::kBumped, "image changed from " + st_.previous_image + " to " + target_image_);
    Save();
  }
  auto ws = d_.workloads->Observe(su_.workload);
  if (ws.ok() && ws->running && SameImage(ws->image, target_image_)) return StepOutcome::Succeeded();
  if (st_.phase != Phase::kBumping) SetPhase(Phase::kBumping, "rolling out " + target_image_);
  changed_ = true;
  CrashPoint("before-rollout");
  Status s = d_.workloads->Rollout(su_.workload, declared_image_);
  CrashPoint("after-rollout");
  if (!s.ok()) {
    if (Transient(s)) return StepOutcome::RetryAfter(s, s.code() == Code::kConflict ? reasons::kWorkloadChanged : reasons::kRolloutFailed);
    return OnFailure(s, reasons::kRolloutFailed);
  }
  return StepOutcome::Succeeded();
}

StepOutcome Pass::Verify() {
  if (!d_.workloads || su_.workload.kind.empty() || target_image_.empty()) return StepOutcome::Succeeded();
  if (!changed_ && st_.phase == Phase::kSucceeded) return StepOutcome::Succeeded();  // Bump() saw it running the target
  // Expand/contract: verified already for this spec (the soak runs from then); Bump() saw it
  // running the target, so it is not verified again on every pass of the soak.
  if (!changed_ && !st_.contract_after.empty()) return StepOutcome::Succeeded();
  SetPhase(Phase::kVerifying, "checking that " + su_.workload.name + " runs " + target_image_ + " and stays up");
  CrashPoint("before-verify");
  Status s = d_.verify(d_.workloads, su_.workload, target_image_, su_.policy.verify_settle, d_.clock);
  CrashPoint("after-verify");
  // The workload could not be observed (podman unreachable): not a verdict on the new version.
  if (s.code() == Code::kUnavailable) return StepOutcome::RetryAfter(s, reasons::kVerifyUnavailable);
  // A rollout that runs on its own (Kubernetes) is still progressing: look again shortly.
  if (s.code() == Code::kGated) return StepOutcome::Waiting(reasons::kRolloutInProgress, s.message(), kRolloutRecheck);
  // Someone changed the workload's image meanwhile: re-plan from what it declares now.
  if (s.code() == Code::kConflict) return StepOutcome::RetryAfter(s, reasons::kWorkloadChanged);
  if (!s.ok()) return OnFailure(s, reasons::kVerifyFailed);
  if (HasContractSteps(plan_.state.pending)) {
    // The soak before the contract migrations starts now (a re-verified bump starts it again).
    st_.contract_after = FormatTime(d_.clock->Now() + su_.policy.contract_after);
    Save();
  }
  return StepOutcome::Succeeded();
}

std::string Pass::PathRelease() const {
  if (path_.stepping) return path_.step.version;
  return st_.path_done.empty() ? "" : final_target_;
}

void Pass::NamePathStep() {
  const std::string release = PathRelease();
  if (release.empty() || st_.path_step == release) return;
  st_.path_step = release;
  st_.path_step_started_at.clear();
}

void Pass::StartStep() {
  // Resumed: started by an earlier pass. A step named while it waited at a gate has not started.
  if (st_.path_step == path_.step.version && !st_.path_step_started_at.empty()) return;
  st_.path_step = path_.step.version;
  st_.path_step_started_at = FormatTime(d_.clock->Now());
  std::string rest;
  for (const auto& v : path_.after) rest += " -> " + v;
  Audit("path-step", "started",
        "policy.stepThrough: " + path_.running + " -> " + path_.step.version + rest +
            (path_.step.migrations_up_to.empty() ? "" : " (migrations up to " + path_.step.migrations_up_to + ")"));
  Save();
}

void Pass::StepReached() {
  st_.path_done.push_back(path_.step.version);
  st_.path_step.clear();
  st_.path_step_started_at.clear();
  std::string rest;
  for (const auto& v : path_.after) rest += (rest.empty() ? "" : " -> ") + v;
  st_.message = su_.service + " at " + path_.step.version + " (upgrade path release, verified; database version " +
                (st_.current_version.empty() ? "(empty)" : st_.current_version) + "); next: " + rest;
  st_.last_error.clear();
  st_.next_retry_at.clear();
  st_.attempts = 0;
  SetCondition(&st_, condition::kReconciling, condition_status::kTrue, reasons::kSteppedThrough, st_.message,
               su_.generation, d_.clock->Now());
  Audit("path-step", "succeeded", path_.step.version + " migrated, bumped and verified; next: " + rest);
  Event(event_type::kNormal, reasons::kSteppedThrough, st_.message);
  Save();
  out_.path_step_reached = path_.step.version;
}

void Pass::Succeed() {
  st_.phase = Phase::kSucceeded;
  st_.start_version.clear();  // the next upgrade of this spec starts from here
  st_.start_image.clear();
  st_.path_step.clear();
  st_.path_step_started_at.clear();
  st_.approved_plan.clear();  // and needs its own approval
  st_.last_error.clear();
  st_.failure_action.clear();
  st_.next_retry_at.clear();
  st_.contract_after.clear();
  st_.attempts = 0;
  st_.message = su_.service + " at " + su_.target_version + " (database version " +
                (st_.current_version.empty() ? "(empty)" : st_.current_version) + ")";
  auto now = d_.clock->Now();
  SetCondition(&st_, condition::kReady, condition_status::kTrue, reasons::kSucceeded, st_.message, su_.generation, now);
  SetCondition(&st_, condition::kReconciling, condition_status::kFalse, reasons::kSucceeded, "", su_.generation, now);
  SetCondition(&st_, condition::kStalled, condition_status::kFalse, reasons::kSucceeded, "", su_.generation, now);
  out_.terminal = true;
  bool changed = false;
  for (const auto& c : st_.conditions) changed |= c.type == condition::kReady && c.last_transition_time == FormatTime(now);
  Save();
  if (changed) Event(event_type::kNormal, reasons::kSucceeded, st_.message);
}

}  // namespace su::reconcile_internal
