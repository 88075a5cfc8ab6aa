// Pass: onFailure restoreBackup (see pass.h and reconcilers/database/restore.h). The restore is a
// change to the database like a migration: it takes its locks under the policy's lock_timeout,
// runs with the blocked-session watch, retries a lock it did not get until policy.lockWait, and
// says which sessions it waited for. It refuses to overwrite rows written since the backup unless
// policy.restoreBackup.allowDataLoss says that loss is accepted.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "reconcilers/base/crash_point.h"
#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/schemaupgrade/pass.h"

namespace su::reconcile_internal {
namespace {

using std::chrono::milliseconds;

// While the restore's psql session runs: finds it by application_name, records what it waits for
// (the sessions pg_blocking_pids names), and runs the blocked-session watch on it.
class RestoreSessionWatch {
 public:
  RestoreSessionWatch(Connector connect, std::string dsn, std::string app, MigrationWatch* watch,
                      std::function<Status(MigrationWatch*, int, std::function<void()>)> start_watch)
      : connect_(std::move(connect)), dsn_(std::move(dsn)), app_(std::move(app)), watch_(watch),
        start_watch_(std::move(start_watch)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~RestoreSessionWatch() { Stop(); }

  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (watch_ && started_) watch_->Stop();
  }
  std::string waited_for() const {
    std::lock_guard<std::mutex> l(mu_);
    return waited_for_;
  }
  Status watch_error() const {
    std::lock_guard<std::mutex> l(mu_);
    return watch_error_;
  }

 private:
  void Loop() {
    auto db = connect_(dsn_, "schema-upgrade-restore-watch");
    if (!db.ok()) {
      LogWarn("restore.watch_unavailable", {{"error", db.status().ToString()}});
      std::lock_guard<std::mutex> l(mu_);
      watch_error_ = db.status();
      return;
    }
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      l.unlock();
      auto r = (*db)->Query(
          "SELECT a.pid, (SELECT string_agg(format('pid %s (%s, %s%s): %s', b.pid, "
          "coalesce(nullif(b.application_name, ''), 'no application_name'), b.state, "
          "CASE WHEN b.xact_start IS NOT NULL THEN ', transaction open for ' || "
          "round(extract(epoch FROM clock_timestamp() - b.xact_start)) || ' s' ELSE '' END, "
          "left(coalesce(b.query, ''), 100)), '; ') FROM pg_stat_activity b WHERE b.pid = ANY(pg_blocking_pids(a.pid))) "
          "FROM pg_stat_activity a WHERE a.application_name = $1 AND a.datname = current_database()",
          {app_});
      if (r.ok() && !r->rows.empty()) {
        // Crash tests: killed while psql restores (it goes on alone, or dies of the closed pipes;
        // either way its one transaction commits whole, with its audit row, or not at all).
        CrashPoint("restore-running");
        int pid = std::stoi(r->Get(0, 0, "0"));
        std::string waiting = r->Get(0, 1);
        if (!started_ && watch_ && pid > 0) {
          std::string dsn = dsn_;
          Connector connect = connect_;
          Status s = start_watch_(watch_, pid, [connect, dsn, pid] {
            auto c = connect(dsn, "schema-upgrade-restore-cancel");
            if (c.ok()) (void)(*c)->Query("SELECT pg_cancel_backend($1)", {std::to_string(pid)});
          });
          started_ = s.ok();
          if (!s.ok()) {
            std::lock_guard<std::mutex> g(mu_);
            watch_error_ = s;
            watch_ = nullptr;
          }
        }
        if (!waiting.empty() && waiting != last_logged_) {
          LogWarn("restore.waiting", {{"restore_pid", std::to_string(pid)}, {"waiting_for", waiting}});
          last_logged_ = waiting;
          std::lock_guard<std::mutex> g(mu_);
          waited_for_ = waiting;
        }
      }
      l.lock();
      cv_.wait_for(l, milliseconds(250), [this] { return stop_; });
    }
  }

  Connector connect_;
  std::string dsn_;
  std::string app_;
  MigrationWatch* watch_;
  std::function<Status(MigrationWatch*, int, std::function<void()>)> start_watch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool started_ = false;  // the loop thread's, read after join
  std::string last_logged_;
  std::string waited_for_;
  Status watch_error_;
  std::thread thread_;
};

}  // namespace

UndoOutcome Pass::RestoreBackup() {
  if (!st_.backup) {
    return UndoOutcome::NotDone(UndoKind::kRefused, "restoreBackup: no backup was taken for this upgrade, nothing restored",
                                "no backup was taken for this upgrade", /*changed_nothing=*/true);
  }
  auto tool = Tool();
  if (!tool.ok()) {
    return UndoOutcome::NotDone(UndoKind::kFailed, "restoreBackup: " + tool.status().ToString() + "; nothing restored",
                                tool.status().ToString(), /*changed_nothing=*/true);
  }
  const std::string path = st_.backup->path;
  RestoreOptions opt;
  opt.lock_timeout = su_.policy.lock_timeout;
  opt.backup_snapshot = st_.backup->snapshot;
  opt.allow_data_loss = su_.policy.restore_allow_data_loss;
  opt.application_name = "schema-upgrade-restore-" + Sha256Hex(su_.Key() + path).substr(0, 12);
  // The restore's audit row commits with the restore (restore.h): a pass killed right after the
  // COMMIT still leaves the record, and no row ever claims a restore that did not commit. The
  // rows already in the audit log (the failed upgrade's, the rollback's) are kept by the restore.
  opt.audit_row = AuditEntry{};
  opt.audit_row->resource = su_.Key();
  opt.audit_row->engine = "controller";
  opt.audit_row->version = su_.target_version;
  opt.audit_row->name = su_.service;
  opt.audit_row->direction = "restore";
  opt.audit_row->actor = CurrentActor();
  opt.audit_row->detail = Scrub(path);
  const bool watch_required = su_.policy.blocked_session_limit.count() > 0;

  // Like a migration, a lock not granted within lock_timeout is tried again (backing off 1 s to
  // 10 s) until policy.lockWait has passed; every try changes nothing until it holds every lock.
  const auto started = d_.clock->MonotonicNow();  // policy.lockWait is a duration
  milliseconds backoff(1000);
  std::string waited_for;
  std::string watch_error;
  int tries = 0;
  Result<RestoreReport> r = Status::Failed("not run");
  for (;;) {
    ++tries;
    std::unique_ptr<MigrationWatch> watch;
    if (d_.watch) watch = d_.watch(dsn_);
    {
      RestoreSessionWatch session(d_.connect_aux ? d_.connect_aux : d_.connect, dsn_, opt.application_name, watch.get(),
                                  [this, watch_required](MigrationWatch* w, int pid, std::function<void()> cancel) {
                                    Status s = StartWatch(w, pid, cancel, /*warn=*/false);
                                    if (!s.ok() && watch_required) cancel();  // never restore unwatched
                                    return s;
                                  });
      CrashPoint("before-restore");
      r = (*tool)->Restore(dsn_, path, opt);
      if (r.ok() && r->restored) CrashPoint("after-restore");  // committed, nothing recorded outside it yet
      session.Stop();
      if (!session.waited_for().empty()) waited_for = session.waited_for();
      if (!session.watch_error().ok()) {
        if (watch_required && !r.ok()) r = WatchRequired(session.watch_error());
        if (!watch_required && watch_error.empty()) {
          watch_error = session.watch_error().message();
          Event(event_type::kWarning, reasons::kLockWatchUnavailable,
                "the restore ran without the blocked-session watch: " + watch_error);
        }
      }
    }
    {
      std::lock_guard<std::mutex> l(blocked_mu_);
      st_.blocked_sessions = blocked_;
    }
    if (r.ok() || !Transient(r.status())) break;
    auto elapsed = std::chrono::duration_cast<milliseconds>(d_.clock->MonotonicNow() - started);
    if (elapsed + backoff > su_.policy.lock_wait) break;
    LogWarn("restore.retry", {{"resource", su_.Key()}, {"error", r.status().ToString()},
                              {"backoff", FormatDuration(backoff)}, {"waiting_for", waited_for}});
    d_.clock->SleepFor(backoff);
    backoff = std::min(backoff * 2, milliseconds(10000));
  }
  const std::string waits = waited_for.empty() ? "" : " (it waited for " + waited_for + ")";
  if (!r.ok()) {
    std::string after = tries > 1 ? " after " + std::to_string(tries) + " tries within policy.lockWait (" +
                                        FormatDuration(su_.policy.lock_wait) + ")"
                                  : "";
    // The restore runs in one transaction (reconcilers/database/restore.h): a failure restores nothing.
    Audit("restore", "failed", path, r.status().ToString());
    return UndoOutcome::NotDone(UndoKind::kFailed,
                                "restoreBackup from " + path + " FAILED" + after + waits + ": " + r.status().ToString() +
                                    "; nothing was restored: end the sessions it waited for, then run `schema-upgrade "
                                    "apply` to retry",
                                r.status().ToString(), /*changed_nothing=*/true);
  }
  st_.backup->rows_written_since = r->writes_since;
  const std::string detail = r->writes_detail.empty() ? "" : " (" + r->writes_detail + ")";
  if (!r->restored) {
    std::string msg = "restoreBackup REFUSED: " + std::to_string(r->writes_since) +
                      " row(s) were written since the backup by sessions other than the upgrade's" + detail +
                      "; restoring would lose them, so the database was left as the failed upgrade left it. "
                      "Repair forward, or set policy.restoreBackup.allowDataLoss: true and run `schema-upgrade "
                      "apply` to restore anyway";
    Audit("restore", "refused", path, msg);
    Event(event_type::kWarning, reasons::kRestoreRefused, msg);
    return UndoOutcome::NotDone(UndoKind::kRefused, msg,
                                std::to_string(r->writes_since) + " row(s) written since the backup",
                                /*changed_nothing=*/true);
  }
  std::string lost = r->writes_since > 0 ? "; " + std::to_string(r->writes_since) +
                                               " row(s) written since the backup were lost (allowDataLoss)" + detail
                                         : "";
  if (!r->audit_recorded) Audit("restore", "succeeded", path);  // a tool that cannot write it in the transaction
  Event(event_type::kWarning, reasons::kBackupRestored, "database restored from " + path + lost + waits);
  return UndoOutcome::Done(UndoKind::kSchemaByBackup, "restoreBackup: database restored from " + path + lost + waits);
}

}  // namespace su::reconcile_internal
