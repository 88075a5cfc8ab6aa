// DrizzleEngine (see drizzle_engine.h): Observe reads; Apply = drift gate, drizzle-orm's DDL,
// then the batch (history and audit rows inside its one transaction) with lock-timeout retries,
// split into segments around backfill files (RunOneBackfill).
#include "reconcilers/engines/drizzle/drizzle_engine.h"

#include <algorithm>

#include "reconcilers/base/log.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/engines/drizzle/drizzle_batch.h"
#include "reconcilers/engines/drizzle/drizzle_folder.h"
#include "reconcilers/engines/drizzle/drizzle_plan.h"
#include "reconcilers/engines/sql/sql_backfill.h"
#include "reconcilers/engines/sql/sql_runner.h"
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
    DrizzlePlan plan = PlanDrizzle(f, rows, {});
    for (size_t i : plan.pending) {
      const DrizzleMigration& m = f.migrations[i];
      if (!m.backfill) continue;
      SU_ASSIGN_OR_RETURN(PendingBackfill b, ObservePendingBackfill(db, *m.backfill, opt_.audit_schema, m.entry.tag));
      b.note = DescribePendingBackfill(b, "drizzle migration " + m.entry.tag);
      plan.state.notes.push_back(b.note);
      plan.state.backfills.push_back(std::move(b));
    }
    return plan.state;
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
    if (!ctx.up_to.empty()) {  // an upgrade-path step: the later journal entries wait for a later step
      DrizzlePlan kept = plan;
      kept.pending.clear();
      kept.state.pending.clear();
      for (size_t k = 0; k < plan.pending.size(); ++k) {
        if (BeyondUpTo(plan.state.pending[k].version, ctx)) continue;
        kept.pending.push_back(plan.pending[k]);
        kept.state.pending.push_back(plan.state.pending[k]);
      }
      plan = std::move(kept);
    }
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
    // The expand phase stops before the first contract migration (it runs after verify and soak).
    const size_t count = ctx.expand_only ? ExpandPrefix(plan.state.pending) : plan.pending.size();
    for (size_t k = 0; k < count; ++k) batch.push_back(&f->migrations[plan.pending[k]]);
    if (batch.empty()) return rep;
    AuditLog audit(db, opt_.audit_schema);
    if (Status a = audit.Ensure(); !a.ok()) return Fail(rep, a);
    // Each migration's audit row is written in the batch's transaction with its history row (no
    // "running" row first): it exists exactly when the migration committed, and costs no commit
    // of its own. A failed batch gets its rows after the rollback (FailBatch).
    std::vector<AuditEntry> entries;
    const std::string actor = ctx.actor.empty() ? CurrentActor() : ctx.actor;
    for (const DrizzleMigration* m : batch) entries.push_back(EntryFor(*m, ctx, actor));

    // The batch runs as segments: each run of ordinary migrations in one transaction (drizzle-orm's
    // design), each backfill on its own in batches (docs/backfill.md). Files before a backfill are
    // committed before it starts, files after it run once its history row is committed.
    for (size_t k = 0; k < batch.size();) {
      if (batch[k]->backfill) {
        if (!RunOneBackfill(db, &audit, *batch[k], entries[k], ctx, static_cast<int>(k) + 1,
                            static_cast<int>(batch.size()), &rep)) {
          return rep;
        }
        ++k;
        continue;
      }
      size_t end = k;
      while (end < batch.size() && !batch[end]->backfill) ++end;
      const std::vector<const DrizzleMigration*> part(batch.begin() + k, batch.begin() + end);
      std::vector<AuditEntry> part_entries(entries.begin() + k, entries.begin() + end);
      for (AuditEntry& e : part_entries) e.detail = "drizzle batch of " + std::to_string(part.size()) + " migration(s) in one transaction";
      const DrizzleRecordRows audit_rows = [&](int i, long long duration_ms) {
        return std::vector<std::string>{audit.SucceededSql(part_entries[i], duration_ms)};
      };
      DrizzleBatchResult r = RunWithRetries(db, part, ctx, audit_rows);
      if (!r.status.ok()) return FailBatch(rep, &audit, part_entries, part, r);
      for (size_t i = 0; i < part.size(); ++i) {
        const DrizzleMigration& m = *part[i];
        rep.steps.push_back({m.entry.tag, m.Name(), r.duration_ms[i], r.statements_run[i]});
        Progress p;
        p.event = Progress::Event::kMigrationDone;
        p.version = m.entry.tag;
        p.name = m.Name();
        p.migration_index = static_cast<int>(k + i) + 1;
        p.migrations_total = static_cast<int>(batch.size());
        p.statement_index = p.statements_total = r.statements_run[i];
        p.elapsed_ms = r.duration_ms[i];
        if (ctx.on_progress) ctx.on_progress(p);
        LogInfo("drizzle_applied", {{"version", m.entry.tag}, {"statements", std::to_string(r.statements_run[i])},
                                    {"duration_ms", std::to_string(r.duration_ms[i])}});
      }
      k = end;
    }
    return rep;
  }

 private:
  std::string Table() const { return QuoteIdent(opt_.migrations_schema) + "." + QuoteIdent(opt_.migrations_table); }

  // s with " The N migration(s) before it are applied." when earlier segments committed (a
  // backfill splits the batch); code and SQLSTATE kept.
  static Status WithAppliedBefore(const Status& s, const RunReport& rep) {
    if (rep.steps.empty()) return s;
    const std::string msg = s.message() + " The " + std::to_string(rep.steps.size()) +
                            " migration(s) before it (up to " + rep.steps.back().version + ") are applied.";
    return s.sqlstate().empty() ? Status::Error(s.code(), msg) : Status::Database(msg, s.sqlstate()).WithCode(s.code());
  }

  static RunReport Fail(RunReport& rep, const Status& s) {
    rep.status = s;
    return rep;
  }

  static AuditEntry EntryFor(const DrizzleMigration& m, const RunContext& ctx, const std::string& actor) {
    AuditEntry e;
    e.resource = ctx.resource;
    e.engine = "drizzle";
    e.version = m.entry.tag;
    e.name = m.Name();
    e.direction = "up";
    e.checksum = m.hash;
    e.statements_total = static_cast<int>(m.statements.size());
    e.actor = actor;
    return e;
  }

  static void RecordAudit(AuditLog* audit, AuditEntry e) {
    // The migration's outcome is already decided; a lost audit row must not hide it.
    Status s = audit->Record(e);
    if (!s.ok()) LogWarn("audit_record_failed", {{"version", e.version}, {"error", s.message()}});
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

  // A backfill file (m.backfill): the sql engine's runner, batch by batch, each batch committed
  // with its progress row (in audit_schema); the last transaction writes drizzle-orm's history row
  // and our audit row and drops the progress row, so drizzle-kit sees it applied exactly then.
  // False (rep filled) on failure; the committed batches stay and the next run resumes after them.
  bool RunOneBackfill(Database* db, AuditLog* audit, const DrizzleMigration& m, AuditEntry e, const RunContext& ctx,
                      int index, int total, RunReport* rep) {
    const PreparedMigration& pm = *m.backfill;
    e.detail = "drizzle backfill in batches (one transaction per batch)";
    e.statements_total = static_cast<int>(pm.statements.size());
    Progress p;
    p.version = m.entry.tag;
    p.name = m.Name();
    p.migration_index = index;
    p.migrations_total = total;
    RecordStep step;
    step.sql = [&](bool, long long elapsed_ms) {
      return std::vector<std::string>{DrizzleHistoryInsert(Table(), m), audit->SucceededSql(e, elapsed_ms)};
    };
    FileRunOutcome o = RunBackfill(db, pm, opt_.audit_schema, m.entry.tag, ctx, p, step);
    if (o.status.ok()) {
      rep->steps.push_back({m.entry.tag, m.Name(), o.duration_ms, o.statements_applied});
      LogInfo("drizzle_applied", {{"version", m.entry.tag}, {"backfill", "true"},
                                  {"duration_ms", std::to_string(o.duration_ms)}});
      return true;
    }
    rep->status = FileFailureStatus("drizzle migration " + m.entry.tag, pm, o, ctx);
    rep->status = WithAppliedBefore(rep->status, *rep);
    rep->failed_version = m.entry.tag;
    rep->failed_file = m.file;
    rep->failed_statement_index = o.failed_index;
    rep->failed_statement_line = o.failed_line;
    rep->failed_statement = o.failed_summary;
    const bool stopped = o.status.code() == Code::kCancelled && !IsStatementTimeout(o.status);
    e.status = stopped ? "interrupted" : "failed";
    e.statements_applied = o.statements_applied;
    e.duration_ms = o.duration_ms;
    e.error = o.status.message();
    e.failing_statement = FailedStatementRef(o);
    RecordAudit(audit, std::move(e));
    LogError("drizzle_failed", {{"version", m.entry.tag}, {"error", rep->status.message()}});
    return false;
  }

  DrizzleBatchResult RunWithRetries(Database* db, const std::vector<const DrizzleMigration*>& batch,
                                    const RunContext& ctx, const DrizzleRecordRows& audit_rows) {
    Clock* clock = ctx.clock ? ctx.clock : RealClock();
    auto backoff = ctx.lock_retry_initial;
    for (int attempt = 0;; ++attempt) {
      DrizzleBatchResult r = RunDrizzleBatch(db, Table(), batch, ctx, audit_rows);
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

  // The batch rolled back: one row per migration of it, written after the rollback. A stop request
  // (not a statement timeout, which Classify made kTimeout) is "interrupted", as in the sql engine.
  RunReport FailBatch(RunReport& rep, AuditLog* audit, const std::vector<AuditEntry>& entries,
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
    rep.status = WithAppliedBefore(rep.status, rep);
    const bool stopped = r.status.code() == Code::kCancelled;
    for (size_t i = 0; i < batch.size(); ++i) {
      AuditEntry e = entries[i];
      e.status = stopped ? "interrupted" : "failed";
      e.duration_ms = r.duration_ms[i];
      if (static_cast<int>(i) == k) {
        e.statements_applied = r.statements_run[i];
        e.error = rep.status.message();
        e.failing_statement = rep.failed_statement;
      } else {
        e.error = static_cast<int>(i) < k
                      ? "rolled back: " + m.entry.tag + " failed later in the same transaction batch"
                      : "not applied: " + m.entry.tag + " failed earlier in the same transaction batch, which was rolled back";
      }
      RecordAudit(audit, std::move(e));
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
