// DrizzleEngine (see drizzle_engine.h): Observe reads; Apply = drift gate, drizzle-orm's DDL,
// audit rows, then the batch with lock-timeout retries.
#include "reconcilers/engines/drizzle/drizzle_engine.h"

#include <algorithm>

#include "reconcilers/base/log.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/engines/drizzle/drizzle_batch.h"
#include "reconcilers/engines/drizzle/drizzle_folder.h"
#include "reconcilers/engines/drizzle/drizzle_plan.h"
#include "reconcilers/sqltext/statement.h"

namespace su {
namespace {

class DrizzleEngine : public Engine {
 public:
  DrizzleEngine(FileSystem* fs, std::string folder, DrizzleEngineOptions o)
      : fs_(fs), folder_(std::move(folder)), opt_(std::move(o)) {}

  std::string name() const override { return "drizzle"; }

  Result<EngineState> Observe(Database* db) override {
    SU_ASSIGN_OR_RETURN(DrizzleFolder f, LoadDrizzleFolder(fs_, folder_, SharedMigrationFileCache(), &memo_));
    SU_ASSIGN_OR_RETURN(std::vector<DrizzleHistoryRow> rows, ReadRows(db, /*may_be_missing=*/true));
    return PlanDrizzle(f, rows, {}).state;
  }

  RunReport Apply(Database* db, const RunContext& ctx) override {
    RunReport rep;
    auto f = LoadDrizzleFolder(fs_, folder_, SharedMigrationFileCache(), &memo_);
    if (!f.ok()) return Fail(rep, f.status());
    // drizzle-orm's own first steps, verbatim in effect, outside the batch transaction.
    Status s = db->Exec("CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(opt_.migrations_schema));
    if (s.ok())
      s = db->Exec("CREATE TABLE IF NOT EXISTS " + Table() +
                   " (\n\t\t\t\tid SERIAL PRIMARY KEY,\n\t\t\t\thash text NOT NULL,\n\t\t\t\tcreated_at bigint\n\t\t\t)");
    if (!s.ok()) return Fail(rep, s.WithContext("creating the drizzle history table " + Table()));
    auto rows = ReadRows(db, /*may_be_missing=*/false);
    if (!rows.ok()) return Fail(rep, rows.status());
    DrizzlePlan plan = PlanDrizzle(*f, *rows, ctx.accept_drift);
    for (const auto& note : plan.state.notes) LogWarn("drizzle_note", {{"folder", folder_}, {"note", note}});

    auto drift = UnacceptedDrift(plan.state);
    if (!drift.empty()) {
      const auto& d = drift.front();
      std::string msg = d.file + " changed after it was applied (recorded sha256 " + d.recorded_checksum +
                        ", file sha256 " + d.file_checksum + ")";
      if (drift.size() > 1) msg += " and " + std::to_string(drift.size() - 1) + " more migration(s) changed";
      msg += "; nothing was applied. Restore the applied file, or accept the change with policy.acceptDrift: [" +
             d.version + "]";
      rep.failed_version = d.version;
      rep.failed_file = d.file;
      return Fail(rep, Status::Error(Code::kGated, msg));
    }
    if (plan.pending.empty()) return rep;
    // Under the lock, what is pending must be what passed the gates (see RunContext::approved).
    if (Status changed = CheckApproved(plan.state.pending, ctx); !changed.ok()) {
      rep.plan_changed = true;
      return Fail(rep, changed);
    }
    // One transaction for the whole batch: the window (or whatever the caller checks) is asked once.
    if (ctx.before_migration) {
      if (Status go = ctx.before_migration(plan.state.pending.front().version); !go.ok()) return Fail(rep, go);
    }

    std::vector<const DrizzleMigration*> batch;
    for (size_t i : plan.pending) batch.push_back(&f->migrations[i]);
    AuditLog audit(db, opt_.audit_schema);
    std::vector<long long> audit_ids;
    if (Status a = audit.Ensure(); !a.ok()) return Fail(rep, a);
    for (const DrizzleMigration* m : batch) {
      AuditEntry e;
      e.resource = ctx.resource;
      e.engine = "drizzle";
      e.version = m->entry.tag;
      e.name = m->Name();
      e.direction = "up";
      e.checksum = m->hash;
      e.statements_total = static_cast<int>(m->statements.size());
      e.actor = ctx.actor;
      e.detail = "drizzle batch of " + std::to_string(batch.size()) + " migration(s) in one transaction";
      auto id = audit.Begin(e);
      if (!id.ok()) return Fail(rep, id.status());
      audit_ids.push_back(*id);
    }

    DrizzleBatchResult r = RunWithRetries(db, batch, ctx);
    if (r.status.ok()) {
      for (size_t k = 0; k < batch.size(); ++k) {
        const DrizzleMigration& m = *batch[k];
        rep.steps.push_back({m.entry.tag, m.Name(), r.duration_ms[k], r.statements_run[k]});
        FinishAudit(&audit, audit_ids[k], "succeeded", r.statements_run[k], "", "");
        Progress p;
        p.event = Progress::Event::kMigrationDone;
        p.version = m.entry.tag;
        p.name = m.Name();
        p.migration_index = static_cast<int>(k) + 1;
        p.migrations_total = static_cast<int>(batch.size());
        p.statement_index = p.statements_total = r.statements_run[k];
        p.elapsed_ms = r.duration_ms[k];
        if (ctx.on_progress) ctx.on_progress(p);
        LogInfo("drizzle_applied", {{"version", m.entry.tag}, {"statements", std::to_string(r.statements_run[k])},
                                    {"duration_ms", std::to_string(r.duration_ms[k])}});
      }
      return rep;
    }
    return FailBatch(rep, &audit, audit_ids, batch, r);
  }

 private:
  std::string Table() const { return QuoteIdent(opt_.migrations_schema) + "." + QuoteIdent(opt_.migrations_table); }

  static RunReport Fail(RunReport& rep, const Status& s) {
    rep.status = s;
    return rep;
  }

  static void FinishAudit(AuditLog* audit, long long id, const std::string& status, int applied,
                          const std::string& error, const std::string& stmt) {
    // The migration's outcome is already decided; a lost audit update must not hide it.
    Status s = audit->Finish(id, status, applied, error, stmt);
    if (!s.ok()) LogWarn("audit_finish_failed", {{"id", std::to_string(id)}, {"error", s.message()}});
  }

  Result<std::vector<DrizzleHistoryRow>> ReadRows(Database* db, bool may_be_missing) {
    if (may_be_missing) {
      SU_ASSIGN_OR_RETURN(QueryResult t, db->Query("SELECT to_regclass($1) IS NOT NULL", {Table()}));
      if (t.rows.empty() || t.Get(0, 0) != "t") return std::vector<DrizzleHistoryRow>{};
    }
    auto q = db->Query("SELECT id, hash, created_at FROM " + Table() + " ORDER BY id");
    if (!q.ok()) return q.status().WithContext("reading " + Table());
    std::vector<DrizzleHistoryRow> rows;
    for (size_t i = 0; i < q->rows.size(); ++i) {
      DrizzleHistoryRow r;
      r.id = std::stoll(q->Get(i, 0, "0"));
      r.hash = q->Get(i, 1);
      if (q->rows[i][2]) r.created_at = std::stoll(*q->rows[i][2]);
      rows.push_back(std::move(r));
    }
    return rows;
  }

  DrizzleBatchResult RunWithRetries(Database* db, const std::vector<const DrizzleMigration*>& batch,
                                    const RunContext& ctx) {
    Clock* clock = ctx.clock ? ctx.clock : RealClock();
    auto backoff = ctx.lock_retry_initial;
    for (int attempt = 0;; ++attempt) {
      DrizzleBatchResult r = RunDrizzleBatch(db, Table(), batch, ctx);
      if (r.status.code() != Code::kLockTimeout) return r;
      const DrizzleMigration& m = *batch[std::max(r.failed, 0)];
      if (attempt >= ctx.lock_retries || (ctx.cancelled && ctx.cancelled())) {
        r.status = r.status.WithContext("lock_timeout (" + std::to_string(ctx.lock_timeout.count()) +
                                        "ms) still hit after " + std::to_string(attempt) +
                                        " retries; another session holds a lock this migration needs");
        return r;
      }
      std::string why = "lock_timeout in " + m.file + " statement " + std::to_string(r.failed_statement) +
                        "; batch rolled back, retry " + std::to_string(attempt + 1) + "/" +
                        std::to_string(ctx.lock_retries) + " in " + std::to_string(backoff.count()) + "ms";
      LogWarn("drizzle_lock_retry", {{"version", m.entry.tag}, {"message", why}});
      if (ctx.on_progress) {
        Progress p;
        p.event = Progress::Event::kRetry;
        p.version = m.entry.tag;
        p.name = m.Name();
        p.migration_index = r.failed + 1;
        p.migrations_total = static_cast<int>(batch.size());
        p.statement_index = r.failed_statement;
        p.statements_total = static_cast<int>(m.statements.size());
        p.message = why;
        ctx.on_progress(p);
      }
      clock->SleepFor(backoff);
      backoff = std::min(backoff * 2, ctx.lock_retry_max);
    }
  }

  RunReport FailBatch(RunReport& rep, AuditLog* audit, const std::vector<long long>& ids,
                      const std::vector<const DrizzleMigration*>& batch, const DrizzleBatchResult& r) {
    const int k = std::max(r.failed, 0);
    const DrizzleMigration& m = *batch[k];
    rep.failed_version = m.entry.tag;
    rep.failed_file = m.file;
    rep.failed_statement_index = r.failed_statement;
    std::string where = m.file;
    if (r.failed_statement > 0) {
      const DrizzleStatement& st = m.statements[r.failed_statement - 1];
      rep.failed_statement_line = st.line;
      rep.failed_statement = SummarizeStatement(st.text);
      where += ":" + std::to_string(st.line) + " statement " + std::to_string(st.index) + "/" +
               std::to_string(m.statements.size()) + " (" + rep.failed_statement + ")";
    }
    const std::string rolled = batch.size() > 1
        ? "; the whole batch of " + std::to_string(batch.size()) +
              " pending migrations ran in one transaction (as drizzle-orm does) and was rolled back, so none is applied"
        : "; it was rolled back, nothing is applied";
    const std::string next = r.status.code() == Code::kLockTimeout || r.status.code() == Code::kCancelled
                                 ? "; run again later"
                                 : "; fix the migration and run again";
    // Keep the code and SQLSTATE (callers retry on kLockTimeout, map exit codes on the code).
    const std::string msg =
        "drizzle migration " + m.entry.tag + " failed at " + where + ": " + r.status.message() + rolled + next;
    rep.status = r.status.sqlstate().empty() ? Status::Error(r.status.code(), msg)
                                             : Status::Database(msg, r.status.sqlstate()).WithCode(r.status.code());
    for (size_t i = 0; i < batch.size(); ++i) {
      if (static_cast<int>(i) == k) {
        FinishAudit(audit, ids[i], "failed", r.statements_run[i], rep.status.message(), rep.failed_statement);
      } else {
        std::string msg = static_cast<int>(i) < k
                              ? "rolled back: " + m.entry.tag + " failed later in the same transaction batch"
                              : "not applied: " + m.entry.tag + " failed earlier in the same transaction batch, which was rolled back";
        FinishAudit(audit, ids[i], "failed", 0, msg, "");
      }
    }
    LogError("drizzle_failed", {{"version", m.entry.tag}, {"error", rep.status.message()}});
    return rep;
  }

  FileSystem* fs_;
  DrizzleLoadMemo memo_;  // this run's file texts and splits: observe and apply read them once
  std::string folder_;
  DrizzleEngineOptions opt_;
};

}  // namespace

std::unique_ptr<Engine> NewDrizzleEngine(FileSystem* fs, std::string folder) {
  return NewDrizzleEngine(fs, std::move(folder), DrizzleEngineOptions{});
}

std::unique_ptr<Engine> NewDrizzleEngine(FileSystem* fs, std::string folder, DrizzleEngineOptions options) {
  return std::make_unique<DrizzleEngine>(fs, std::move(folder), std::move(options));
}

}  // namespace su
