// Statement-by-statement execution of one migration file (see sql_runner.h).
#include "reconcilers/engines/sql/sql_runner.h"

#include <algorithm>

#include "reconcilers/base/log.h"

namespace su {

std::string sql_runner::Ms(std::chrono::milliseconds d) {
  return std::to_string(std::max<long long>(0, d.count())) + "ms";
}

long long sql_runner::ElapsedMs(Clock* clock, Clock::MonoTimePoint start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock->MonotonicNow() - start).count();
}

namespace {

using sql_runner::ElapsedMs;
using sql_runner::Ms;

void Emit(const RunContext& ctx, Progress p) {
  if (ctx.on_progress) ctx.on_progress(p);
}

bool Cancelled(const RunContext& ctx) { return ctx.cancelled && ctx.cancelled(); }

// One attempt. Statements [start, n) run; on failure the outcome says which one.
//
// Round trips (psql needs statements + 2 for a file in BEGIN/COMMIT): a transactional file sends
// BEGIN and its SET LOCALs in the same simple query as its first statement, and its history and
// audit rows and COMMIT in the same one as its last statement, so a file costs one round trip per
// statement (one for an empty file) and one commit. A no-transaction file cannot batch its
// statements (a multi-statement query is one implicit transaction, which CREATE INDEX
// CONCURRENTLY refuses): SET, each statement, then the record rows and RESETs in one query (one
// implicit transaction, so the history and audit rows are written together or not at all).
FileRunOutcome Attempt(Database* db, const PreparedMigration& m, const RunContext& ctx, Clock* clock,
                       Progress progress, const RecordStep& record, size_t start, Clock::MonoTimePoint t0) {
  FileRunOutcome out;
  out.statements_applied = static_cast<int>(start);
  const bool tx = !m.no_transaction;
  const std::string lock_timeout = "lock_timeout = '" + Ms(ctx.lock_timeout) + "'";
  const std::string statement_timeout = "statement_timeout = '" + Ms(ctx.statement_timeout) + "'";
  // A no-transaction file leaves the session's timeouts as they were; a failed statement inside a
  // user's own BEGIN block would otherwise leave the session in an aborted transaction.
  auto finish_failed = [&]() {
    (void)db->ExecScript("ROLLBACK");
    if (!tx) (void)db->ExecScript("RESET lock_timeout; RESET statement_timeout");
  };
  auto fail_at = [&](size_t i, Status s) {
    out.status = std::move(s);
    out.failed_index = static_cast<int>(i) + 1;
    out.failed_line = m.statements[i].line;
    out.failed_summary = SummarizeStatement(m.statements[i].text);
    if (tx) out.statements_applied = 0;
  };
  if (ctx.on_session) ctx.on_session(db->BackendPid());

  std::vector<std::string> prefix;  // sent ahead of the next statement
  Status s;
  if (tx) {
    prefix = {"BEGIN", "SET LOCAL " + lock_timeout, "SET LOCAL " + statement_timeout};
  } else {
    s = db->ExecScript("SET " + lock_timeout + "; SET " + statement_timeout);
    if (!s.ok()) {
      out.status = s.WithContext("starting the migration");
      return out;
    }
  }
  // The record rows ride with the last statement (transactional files, no `before` step).
  auto record_sql = [&](bool in_tx) { return record.sql(in_tx, ElapsedMs(clock, t0)); };
  const bool record_with_last = tx && !record.before;

  const int total = static_cast<int>(m.statements.size());
  progress.statements_total = total;
  for (size_t i = start; i < m.statements.size(); ++i) {
    const SqlStatementRef& st = m.statements[i];
    if (Cancelled(ctx)) {
      if (!prefix.empty()) prefix.clear();  // nothing was sent yet: no transaction to end
      else finish_failed();
      out.status = Status::Error(Code::kCancelled, "stopped on request before statement " + std::to_string(i + 1));
      out.failed_index = static_cast<int>(i) + 1;
      out.failed_line = st.line;
      out.failed_summary = SummarizeStatement(st.text);
      if (tx) out.statements_applied = 0;
      return out;
    }
    progress.event = Progress::Event::kStatement;
    progress.statement_index = static_cast<int>(i) + 1;
    progress.elapsed_ms = ElapsedMs(clock, t0);
    Emit(ctx, progress);
    const bool last = i + 1 == m.statements.size();
    std::vector<std::string> suffix;
    if (last && record_with_last) {
      suffix = record_sql(true);
      suffix.push_back("COMMIT");
    }
    if (prefix.empty() && suffix.empty()) {
      s = db->ExecScript(std::string(st.text));
      if (!s.ok()) {
        finish_failed();
        fail_at(i, s);
        return out;
      }
    } else {
      std::vector<std::string_view> batch(prefix.begin(), prefix.end());
      const size_t at = batch.size();
      batch.push_back(st.text);
      batch.insert(batch.end(), suffix.begin(), suffix.end());
      int failed = -1;
      s = db->ExecBatch(batch, &failed);
      if (!s.ok()) {
        finish_failed();
        if (failed >= 0 && static_cast<size_t>(failed) == at) {
          fail_at(i, s);
        } else {
          out.status = s.WithContext(failed >= 0 && static_cast<size_t>(failed) < at ? "starting the migration"
                                                                                     : "committing the migration");
          if (tx) out.statements_applied = 0;
        }
        return out;
      }
      prefix.clear();
      if (!suffix.empty()) {
        out.statements_applied = total;
        return out;  // committed with its history and audit rows
      }
    }
    if (!tx) out.statements_applied = static_cast<int>(i) + 1;
  }
  // An empty file (or a resumed no-transaction file, or a `before` step): the record on its own.
  if (tx) {
    if (s.ok() && record.before) {
      if (!prefix.empty()) {
        s = db->ExecScript("BEGIN; SET LOCAL " + lock_timeout + "; SET LOCAL " + statement_timeout);
        prefix.clear();
      }
      if (s.ok()) s = record.before();
    }
    std::vector<std::string> batch(prefix.begin(), prefix.end());
    for (auto& r : record_sql(true)) batch.push_back(std::move(r));
    batch.push_back("COMMIT");
    if (s.ok()) s = db->ExecBatch(std::vector<std::string_view>(batch.begin(), batch.end()), nullptr);
    if (!s.ok()) {
      finish_failed();
      out.status = s.WithContext("committing the migration");
      out.statements_applied = 0;
      return out;
    }
    out.statements_applied = total;
    return out;
  }
  std::vector<std::string> batch;
  if (record.before) {
    s = db->ExecScript("BEGIN");
    if (s.ok()) s = record.before();
    if (s.ok()) batch = record_sql(true);
    batch.push_back("COMMIT");
  } else {
    batch = record_sql(false);  // one implicit transaction: both rows or neither
  }
  if (s.ok()) s = db->ExecBatch(std::vector<std::string_view>(batch.begin(), batch.end()), nullptr);
  if (!s.ok()) {
    finish_failed();
    out.status = s.WithContext("recording the migration");
    return out;
  }
  s = db->ExecScript("RESET lock_timeout; RESET statement_timeout");
  // The migration is applied and recorded; a failed RESET only matters to later statements on
  // this session, so report it without undoing anything.
  if (!s.ok()) LogWarn("sql_reset_timeouts_failed", {{"error", s.message()}});
  out.statements_applied = total;
  return out;
}

}  // namespace

FileRunOutcome RunMigrationFile(Database* db, const PreparedMigration& m, const RunContext& ctx, Progress progress,
                                const RecordStep& record) {
  // Never copy ctx: it carries the approved plan (every pending file's statements), so a copy per
  // file made a run of N files cost O(N^2) (a third of the client's instructions at N = 300).
  Clock* clock = ctx.clock ? ctx.clock : RealClock();
  const RunContext& c = ctx;
  const Clock::MonoTimePoint t0 = clock->MonotonicNow();
  progress.event = Progress::Event::kMigrationStart;
  progress.statements_total = static_cast<int>(m.statements.size());
  Emit(c, progress);

  size_t start = 0;
  std::chrono::milliseconds backoff = c.lock_retry_initial;
  int retries = 0;
  while (true) {
    FileRunOutcome out = Attempt(db, m, c, clock, progress, record, start, t0);
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

std::string FailedStatementRef(const FileRunOutcome& o) {
  if (o.failed_index == 0) return "";
  return "statement " + std::to_string(o.failed_index) + " (line " + std::to_string(o.failed_line) +
         "): " + o.failed_summary;
}

bool IsStatementTimeout(const Status& s) {
  return s.code() == Code::kCancelled && s.sqlstate() == "57014" &&
         s.message().find("statement timeout") != std::string::npos;
}

Status FileFailureStatus(const std::string& what, const PreparedMigration& m, const FileRunOutcome& o,
                         const RunContext& ctx) {
  const Status& s = o.status;
  std::string msg = what + " (" + m.file + ") failed";
  if (o.failed_index > 0) {
    msg += " at statement " + std::to_string(o.failed_index) + " of " + std::to_string(m.statements.size()) +
           " (line " + std::to_string(o.failed_line) + ": " + o.failed_summary + ")";
  }
  msg += ": " + s.message() + ". ";
  if (m.backfill) {
    msg += "The batch in flight was rolled back; the batches before it stay committed with their progress, and "
           "the next run resumes after the last committed key (no row is done twice). ";
  } else if (!m.no_transaction) {
    msg += "It was rolled back: nothing of it is applied and its history row is unchanged. ";
  } else {
    msg += "The file runs without a transaction: " + std::to_string(o.statements_applied) +
           " statement(s) before the failing one stay committed and no history row was written; the next run "
           "starts the file again from the top, so keep its statements idempotent (IF NOT EXISTS). ";
  }
  if (s.code() == Code::kLockTimeout) {
    msg += "It could not take its locks within lock_timeout " + Ms(ctx.lock_timeout) + " after " +
           std::to_string(o.retries) +
           " retries; find the blocking session in pg_stat_activity (long transactions), then run again.";
  } else if (IsStatementTimeout(s)) {
    msg += "It ran longer than statement_timeout " + Ms(ctx.statement_timeout) +
           "; raise policy.statementTimeout or make the statement cheaper, then run again.";
  } else if (s.code() == Code::kCancelled) {
    msg += "It was stopped on request; run again to continue.";
  } else if (s.code() == Code::kUnavailable) {
    msg += "The database connection was lost; run again once the database is reachable.";
  } else {
    msg += "Fix the file (or the data it trips over) and run again.";
  }
  Status out = s.sqlstate().empty() ? Status::Error(s.code(), msg) : Status::Database(msg, s.sqlstate());
  return out.WithCode(s.code());
}

}  // namespace su
