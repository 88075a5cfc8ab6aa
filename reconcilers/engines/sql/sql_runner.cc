// Statement-by-statement execution of one migration file (see sql_runner.h).
#include "reconcilers/engines/sql/sql_runner.h"

#include <algorithm>

#include "reconcilers/base/log.h"

namespace su {
namespace {

std::string Ms(std::chrono::milliseconds d) { return std::to_string(std::max<long long>(0, d.count())) + "ms"; }

long long ElapsedMs(Clock* clock, Clock::TimePoint start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock->Now() - start).count();
}

void Emit(const RunContext& ctx, Progress p) {
  if (ctx.on_progress) ctx.on_progress(p);
}

bool Cancelled(const RunContext& ctx) { return ctx.cancelled && ctx.cancelled(); }

// One attempt. Statements [start, n) run; on failure the outcome says which one.
FileRunOutcome Attempt(Database* db, const PreparedMigration& m, const RunContext& ctx, Progress progress,
                       const RecordStep& record, size_t start, Clock::TimePoint t0) {
  FileRunOutcome out;
  out.statements_applied = static_cast<int>(start);
  const bool tx = !m.no_transaction;
  std::string timeouts = "lock_timeout = '" + Ms(ctx.lock_timeout) + "'; SET " + std::string(tx ? "LOCAL " : "") +
                         "statement_timeout = '" + Ms(ctx.statement_timeout) + "'";
  Status s = db->ExecScript(tx ? "BEGIN; SET LOCAL " + timeouts : "SET " + timeouts);
  if (!s.ok()) {
    if (tx) (void)db->ExecScript("ROLLBACK");
    out.status = s.WithContext("starting the migration");
    return out;
  }
  // A no-transaction file leaves the session's timeouts as they were; a failed statement inside a
  // user's own BEGIN block would otherwise leave the session in an aborted transaction.
  auto finish_failed = [&]() {
    (void)db->ExecScript("ROLLBACK");
    if (!tx) (void)db->ExecScript("RESET lock_timeout; RESET statement_timeout");
  };
  if (ctx.on_session) ctx.on_session(db->BackendPid());

  const int total = static_cast<int>(m.statements.size());
  progress.statements_total = total;
  for (size_t i = start; i < m.statements.size(); ++i) {
    const SqlStatement& st = m.statements[i];
    if (Cancelled(ctx)) {
      finish_failed();
      out.status = Status::Error(Code::kCancelled, "stopped on request before statement " + std::to_string(i + 1));
      out.failed_index = static_cast<int>(i) + 1;
      out.failed_line = st.line;
      out.failed_summary = SummarizeStatement(st.text);
      if (tx) out.statements_applied = 0;
      return out;
    }
    progress.event = Progress::Event::kStatement;
    progress.statement_index = static_cast<int>(i) + 1;
    progress.elapsed_ms = ElapsedMs(ctx.clock, t0);
    Emit(ctx, progress);
    s = db->ExecScript(st.text);
    if (!s.ok()) {
      finish_failed();
      out.status = s;
      out.failed_index = static_cast<int>(i) + 1;
      out.failed_line = st.line;
      out.failed_summary = SummarizeStatement(st.text);
      if (tx) out.statements_applied = 0;
      return out;
    }
    if (!tx) out.statements_applied = static_cast<int>(i) + 1;
  }
  if (!tx) s = db->ExecScript("BEGIN");
  if (s.ok() && record.before) s = record.before();
  if (s.ok()) s = db->ExecScript(record.sql + ";\nCOMMIT");
  if (!s.ok()) {
    finish_failed();
    out.status = s.WithContext(tx ? "committing the migration" : "recording the migration");
    if (tx) out.statements_applied = 0;
    return out;
  }
  if (!tx) {
    s = db->ExecScript("RESET lock_timeout; RESET statement_timeout");
    // The migration is applied and recorded; a failed RESET only matters to later statements on
    // this session, so report it without undoing anything.
    if (!s.ok()) LogWarn("sql_reset_timeouts_failed", {{"error", s.message()}});
  }
  out.statements_applied = total;
  return out;
}

}  // namespace

FileRunOutcome RunMigrationFile(Database* db, const PreparedMigration& m, const RunContext& ctx, Progress progress,
                                const RecordStep& record) {
  Clock* clock = ctx.clock ? ctx.clock : RealClock();
  RunContext c = ctx;
  c.clock = clock;
  const Clock::TimePoint t0 = clock->Now();
  progress.event = Progress::Event::kMigrationStart;
  progress.statements_total = static_cast<int>(m.statements.size());
  Emit(c, progress);

  size_t start = 0;
  std::chrono::milliseconds backoff = c.lock_retry_initial;
  int retries = 0;
  while (true) {
    FileRunOutcome out = Attempt(db, m, c, progress, record, start, t0);
    out.retries = retries;
    out.duration_ms = ElapsedMs(clock, t0);
    if (out.status.code() != Code::kLockTimeout || retries >= c.lock_retries || Cancelled(c)) {
      if (out.status.ok()) {
        progress.event = Progress::Event::kMigrationDone;
        progress.statement_index = progress.statements_total;
        progress.elapsed_ms = out.duration_ms;
        Emit(c, progress);
      }
      return out;
    }
    ++retries;
    if (m.no_transaction) start = static_cast<size_t>(out.statements_applied);
    Progress p = progress;
    p.event = Progress::Event::kRetry;
    p.statement_index = out.failed_index;
    p.elapsed_ms = out.duration_ms;
    p.message = "lock_timeout (" + Ms(c.lock_timeout) + ") at statement " + std::to_string(out.failed_index) +
                "; retry " + std::to_string(retries) + " of " + std::to_string(c.lock_retries) + " in " + Ms(backoff);
    LogInfo("sql_migration_lock_retry", {{"version", m.version}, {"statement", std::to_string(out.failed_index)},
                                          {"retry", std::to_string(retries)}, {"backoff", Ms(backoff)}});
    Emit(c, p);
    clock->SleepFor(backoff);
    backoff = std::min(backoff * 2, c.lock_retry_max);
  }
}

}  // namespace su
