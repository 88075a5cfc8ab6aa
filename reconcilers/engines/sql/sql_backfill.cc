// Batched, resumable backfills (see sql_backfill.h and docs/backfill.md).
#include "reconcilers/engines/sql/sql_backfill.h"

#include <algorithm>
#include <cctype>

#include "reconcilers/base/crash_point.h"
#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/engines/sql/sql_prepare.h"
#include "reconcilers/engines/sql/sql_runner.h"

namespace su {
namespace {

using sql_runner::ElapsedMs;
using sql_runner::Ms;

std::string ProgressTable(const std::string& schema) {
  return QuoteIdent(schema) + ".schema_upgrade_backfill";
}

// The highest $n parameter a statement uses, and whether $1 and $2 both appear (outside quotes
// is not checked: a "$1" inside a string literal is unusual enough in an UPDATE).
void Params(std::string_view s, bool* has1, bool* has2, int* highest) {
  *has1 = *has2 = false;
  *highest = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] != '$' || !std::isdigit(static_cast<unsigned char>(s[i + 1]))) continue;
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(s[i - 1])) || s[i - 1] == '_')) continue;
    size_t j = i + 1;
    int n = 0;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])) && n < 1000) n = n * 10 + (s[j++] - '0');
    if (j < s.size() && s[j] == '$') continue;  // $1$ ... a dollar-quote tag? (tags cannot start with a digit)
    if (n == 1) *has1 = true;
    if (n == 2) *has2 = true;
    *highest = std::max(*highest, n);
  }
}

}  // namespace

Result<BackfillSpec> ParseBackfill(const std::string& file, const Directives& directives,
                                   const std::vector<SqlStatementRef>& statements) {
  const std::vector<Directive>& items = directives.items;
  BackfillSpec spec;
  auto bad = [&](int line, const std::string& field, const std::string& why) {
    return Status::Invalid(file + ":" + std::to_string(line) + ": backfill directive field '" + field + "' " + why);
  };
  int directive_line = 0;
  for (const auto& it : items) {
    if (it.key == "backfill") {
      directive_line = it.line;
      if (!it.value.empty() && it.value != "true") return bad(it.line, "backfill", "takes no value (got '" + it.value + "')");
    }
  }
  spec.line = directive_line;
  for (const auto& it : items) {
    auto number = [&](long long* out) -> Status {
      long long v = 0;
      bool ok = !it.value.empty() && it.value.size() <= 9;
      for (char c : it.value) ok = ok && std::isdigit(static_cast<unsigned char>(c));
      if (ok) v = std::stoll(it.value);
      if (!ok || v <= 0) return bad(it.line, it.key, "must be a positive whole number of rows (got '" + it.value + "')");
      *out = v;
      return Status::Ok();
    };
    auto duration = [&](std::chrono::milliseconds* out, bool zero_ok) -> Status {
      auto d = ParseDuration(it.value);
      if (!d.ok() || (!zero_ok && d->count() <= 0)) {
        return bad(it.line, it.key, std::string("must be a duration such as 500ms or 2s") + (zero_ok ? " (0 turns it off)" : "") +
                                        " (got '" + it.value + "')");
      }
      *out = *d;
      return Status::Ok();
    };
    Status s;
    if (it.key == "table") {
      if (it.value.empty()) return bad(it.line, "table", "needs a table name (table=users or table=app.users)");
      spec.table = it.value;
    } else if (it.key == "key") {
      if (it.value.empty()) return bad(it.line, "key", "needs a column name (key=id)");
      spec.key = it.value;
    } else if (it.key == "batch") {
      s = number(&spec.knobs.batch);
    } else if (it.key == "min-batch") {
      s = number(&spec.knobs.min_batch);
    } else if (it.key == "max-batch") {
      s = number(&spec.knobs.max_batch);
    } else if (it.key == "batch-time") {
      s = duration(&spec.knobs.batch_time, false);
    } else if (it.key == "pause") {
      s = duration(&spec.knobs.pause, true);
    } else if (it.key == "max-lag") {
      s = duration(&spec.knobs.max_lag, true);
    } else if (it.key == "adaptive") {
      if (it.value != "true" && it.value != "false") return bad(it.line, "adaptive", "must be true or false (got '" + it.value + "')");
      spec.knobs.adaptive = it.value == "true";
    }
    if (!s.ok()) return s;
  }
  if (spec.table.empty()) return bad(directive_line, "table", "is missing: name the table to walk (table=users)");
  if (spec.key.empty()) return bad(directive_line, "key", "is missing: name an ordered, NOT NULL key column (key=id)");
  if (spec.knobs.min_batch > spec.knobs.max_batch) {
    return bad(directive_line, "min-batch", "(" + std::to_string(spec.knobs.min_batch) + ") is above max-batch (" +
                                                std::to_string(spec.knobs.max_batch) + ")");
  }
  spec.knobs.batch = std::clamp(spec.knobs.batch, spec.knobs.min_batch, spec.knobs.max_batch);
  if (statements.size() != 1) {
    return Status::Invalid(file + ":" + std::to_string(directive_line) +
                           ": a backfill file holds exactly one statement (the batch's UPDATE with $1 and $2), it has " +
                           std::to_string(statements.size()) + "; put other statements in a migration of their own");
  }
  bool has1 = false, has2 = false;
  int highest = 0;
  Params(statements[0].text, &has1, &has2, &highest);
  if (!has1 || !has2 || highest > 2) {
    return Status::Invalid(file + ":" + std::to_string(statements[0].line) +
                           ": the backfill statement must use $1 (the batch's first key) and $2 (its last key) and no "
                           "other parameter, e.g. WHERE " + spec.key + " BETWEEN $1 AND $2");
  }
  return spec;
}

Result<std::vector<BackfillProgressRow>> ReadBackfillProgress(Database* db, const std::string& schema) {
  std::vector<BackfillProgressRow> out;
  auto exists = db->Query("SELECT to_regclass($1) IS NOT NULL", {ProgressTable(schema)});
  if (!exists.ok()) return exists.status();
  if (exists->Get(0, 0) != "t") return out;
  auto r = db->Query("SELECT key, last_key, rows_done, batches FROM " + ProgressTable(schema) + " ORDER BY key");
  if (!r.ok()) return r.status();
  for (size_t i = 0; i < r->rows.size(); ++i) {
    BackfillProgressRow row;
    row.key = r->Get(i, 0);
    row.last_key = r->rows[i][1];
    row.rows_done = std::stoll(r->Get(i, 2, "0"));
    row.batches = std::stoll(r->Get(i, 3, "0"));
    out.push_back(std::move(row));
  }
  return out;
}

Result<PendingBackfill> ObservePendingBackfill(Database* db, const PreparedMigration& m, const std::string& schema,
                                               const std::string& progress_key) {
  const BackfillSpec& spec = *m.backfill;
  PendingBackfill b;
  b.version = progress_key;
  b.file = m.file;
  b.table = spec.table;
  b.key = spec.key;
  b.batch = spec.knobs.batch;
  b.min_batch = spec.knobs.min_batch;
  b.max_batch = spec.knobs.max_batch;
  b.adaptive = spec.knobs.adaptive;
  b.batch_time_ms = spec.knobs.batch_time.count();
  b.pause_ms = spec.knobs.pause.count();
  b.max_lag_ms = spec.knobs.max_lag.count();
  auto est = db->Query("SELECT c.reltuples::bigint FROM pg_class c WHERE c.oid = to_regclass($1)",
                       {QuoteQualified(spec.table)});
  if (!est.ok()) return est.status().WithContext("estimating the size of " + spec.table);
  b.table_exists = !est->rows.empty();
  if (b.table_exists) b.rows_estimate = std::max(-1LL, std::stoll(est->Get(0, 0, "-1")));
  SU_ASSIGN_OR_RETURN(std::vector<BackfillProgressRow> progress, ReadBackfillProgress(db, schema));
  for (const auto& r : progress) {
    if (r.key != progress_key) continue;
    b.interrupted = true;
    b.rows_done = r.rows_done;
    b.batches = r.batches;
    b.resume_after = r.last_key.value_or("");
  }
  return b;
}

std::string DescribePendingBackfill(const PendingBackfill& b, const std::string& label) {
  std::string out = label + " is a backfill of " + b.table + " by " + b.key + " in batches of " +
                    std::to_string(b.batch) + (b.adaptive ? " (adaptive)" : " (fixed)") + ", each its own transaction";
  if (!b.table_exists) {
    out += "; " + b.table + " does not exist yet (an earlier migration of this plan creates it)";
  } else if (b.rows_estimate >= 0) {
    out += "; ~" + std::to_string(b.rows_estimate) + " rows (planner estimate)";
  } else {
    out += "; rows unknown (the table was never analyzed)";
  }
  if (b.interrupted) {
    out += "; an interrupted run did " + std::to_string(b.rows_done) + " rows in " + std::to_string(b.batches) +
           " batches: it resumes after key " + (b.resume_after.empty() ? "(none)" : b.resume_after);
  }
  return out;
}

FileRunOutcome RunBackfill(Database* db, const PreparedMigration& m, const std::string& schema,
                           const std::string& progress_key, const RunContext& ctx, Progress progress,
                           const RecordStep& record) {
  Clock* clock = ctx.clock ? ctx.clock : RealClock();
  const Clock::MonoTimePoint t0 = clock->MonotonicNow();
  const BackfillSpec& spec = *m.backfill;
  FileRunOutcome out;
  auto emit = [&](Progress::Event e) {
    progress.event = e;
    progress.elapsed_ms = ElapsedMs(clock, t0);
    if (ctx.on_progress) ctx.on_progress(progress);
  };
  auto fail = [&](Status s) {
    (void)db->ExecScript("ROLLBACK");
    out.status = std::move(s);
    out.failed_index = 1;
    out.failed_line = m.statements[0].line;
    out.failed_summary = SummarizeStatement(m.statements[0].text);
    out.duration_ms = ElapsedMs(clock, t0);
    return out;
  };
  progress.statements_total = 1;
  emit(Progress::Event::kMigrationStart);
  if (ctx.on_session) ctx.on_session(db->BackendPid());

  const std::string table = QuoteQualified(spec.table);
  const std::string key = QuoteIdent(spec.key);
  const std::string ptable = ProgressTable(schema);
  // The progress row: created once (its own implicit transaction), then only ever changed in the
  // same transaction as a batch. The checksum ties it to the file that made it.
  Status s = db->ExecScript("CREATE TABLE IF NOT EXISTS " + ptable +
                            " (key text PRIMARY KEY, checksum text NOT NULL, last_key text, rows_done bigint NOT NULL "
                            "DEFAULT 0, batches bigint NOT NULL DEFAULT 0, started_at timestamptz NOT NULL DEFAULT "
                            "now(), updated_at timestamptz NOT NULL DEFAULT now())");
  if (s.ok()) {
    s = db->Exec("INSERT INTO " + ptable + " (key, checksum) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                 {progress_key, m.checksum});
  }
  auto row = s.ok() ? db->Query("SELECT checksum, last_key, rows_done FROM " + ptable + " WHERE key = $1", {progress_key})
                    : Result<QueryResult>(s);
  if (!row.ok() || row->rows.empty()) {
    out.status = (row.ok() ? Status::Failed("progress row vanished") : row.status()).WithContext("reading the backfill's progress");
    return out;
  }
  std::optional<std::string> last = row->rows[0][1];
  const long long done_before = std::stoll(row->Get(0, 2, "0"));
  if (row->Get(0, 0) != m.checksum) {
    out.status = Status::Error(
        Code::kGated, "the backfill " + m.file + " was interrupted after key " + last.value_or("(none)") + " (" +
                          std::to_string(done_before) + " rows) by a different version of the file; nothing was "
                          "run. Restore the file as it was, or, if the new statement may run over the rows the old "
                          "one already changed, delete its row from " + ptable + " (key '" + progress_key +
                          "') to start over from the first key.");
    return out;
  }

  // Rows to do in all: the planner's estimate, or a count when the table was never analyzed.
  long long total = 0;
  auto est = db->Query("SELECT c.reltuples::bigint FROM pg_class c WHERE c.oid = to_regclass($1)", {table});
  if (!est.ok()) {
    out.status = est.status().WithContext("estimating the size of " + spec.table);
    return out;
  }
  if (est->rows.empty()) {
    out.status = Status::Invalid(m.file + ":" + std::to_string(spec.line) + ": backfill table " + spec.table +
                                 " does not exist; create it in an earlier migration");
    return out;
  }
  total = std::stoll(est->Get(0, 0, "-1"));
  if (total < 0) {
    auto c = db->Query("SELECT count(*) FROM " + table);
    if (c.ok()) total = std::stoll(c->Get(0, 0, "0"));
  }
  progress.rows_total = total;
  progress.rows_done = done_before;

  const std::string tx = "BEGIN; SET LOCAL lock_timeout = '" + Ms(ctx.lock_timeout) +
                         "'; SET LOCAL statement_timeout = '" + Ms(ctx.statement_timeout) + "'";
  // Bounds of the next batch: its first and its n-th key after the last committed one (an index
  // scan of n keys; sparse keys and any orderable type work).
  // Every name is qualified (t., b.): a bare ORDER BY name would pick the text output column of
  // the same name and order the keys as strings.
  auto bounds = [&](const std::string& where, const std::string& limit) {
    const std::string keys = "(SELECT t." + key + " AS k FROM " + table + " t" + where + " ORDER BY t." + key;
    return "SELECT (SELECT b.k::text FROM " + keys + " LIMIT 1) b), (SELECT b.k::text FROM " + keys + " LIMIT " +
           limit + ") b ORDER BY b.k DESC LIMIT 1)";
  };
  const std::string bounds_first = bounds("", "$1");
  const std::string bounds_next = bounds(" WHERE t." + key + " > $1", "$2");
  // Committed with the batch: the progress, and whether anyone is waiting on our row locks now.
  const std::string advance = "WITH p AS (UPDATE " + ptable +
                              " SET last_key = $2, rows_done = rows_done + $3, batches = batches + 1, updated_at = "
                              "now() WHERE key = $1 RETURNING 1) SELECT (SELECT count(*) FROM p), (SELECT count(*) "
                              "FROM pg_stat_activity a WHERE a.wait_event_type = 'Lock' AND pg_backend_pid() = "
                              "ANY(pg_blocking_pids(a.pid)))";
  const std::string stmt(m.statements[0].text);

  BackfillPacer pacer(spec.knobs, clock);
  progress.statement_index = 1;
  emit(Progress::Event::kStatement);
  std::chrono::milliseconds backoff = ctx.lock_retry_initial;
  int lock_retries = 0;
  bool first_batch = true;
  while (true) {
    if (ctx.cancelled && ctx.cancelled()) {
      return fail(Status::Error(Code::kCancelled, "stopped on request after key " + last.value_or("(none)")));
    }
    if (!first_batch && pacer.pause().count() > 0) clock->SleepFor(pacer.pause());
    first_batch = false;
    // Replicas falling behind: wait (checking for a stop request) until they catch up.
    if (spec.knobs.max_lag.count() > 0) {
      while (true) {
        auto lag = db->Query(
            "SELECT coalesce(max(extract(epoch FROM replay_lag) * 1000), 0)::bigint FROM pg_stat_replication");
        if (!lag.ok() || std::stoll(lag->Get(0, 0, "0")) <= spec.knobs.max_lag.count()) break;
        progress.message = "throttled: replication lag " + lag->Get(0, 0) + "ms above max-lag " + Ms(spec.knobs.max_lag);
        emit(Progress::Event::kBackfill);
        if (ctx.cancelled && ctx.cancelled()) break;
        clock->SleepFor(std::max(spec.knobs.pause, std::chrono::milliseconds(1000)));
      }
      progress.message.clear();
    }
    pacer.BatchStarted();
    const std::string n = std::to_string(pacer.batch_size());
    s = db->ExecScript(tx);
    auto b = s.ok() ? (last ? db->Query(bounds_next, {*last, n}) : db->Query(bounds_first, {n})) : Result<QueryResult>(s);
    if (!b.ok()) return fail(b.status().WithContext("finding the next batch of " + spec.table));
    const SqlValue lo = b->rows[0][0];
    const SqlValue hi = b->rows[0][1];
    if (!lo || !hi) {
      // No key left: the migration counts as applied, in the same transaction that drops the progress.
      std::vector<std::string> batch;
      for (auto& r : record.sql(true, ElapsedMs(clock, t0))) batch.push_back(std::move(r));
      batch.push_back("DELETE FROM " + ptable + " WHERE key = " + QuoteLiteral(progress_key));
      batch.push_back("COMMIT");
      s = db->ExecBatch(std::vector<std::string_view>(batch.begin(), batch.end()), nullptr);
      if (!s.ok()) {
        (void)db->ExecScript("ROLLBACK");
        out.status = s.WithContext("recording the finished backfill");
        out.duration_ms = ElapsedMs(clock, t0);
        return out;
      }
      break;
    }
    auto u = db->Query(stmt, {lo, hi});
    if (!u.ok()) {
      Status us = u.status();
      if (us.code() == Code::kLockTimeout && lock_retries < ctx.lock_retries && !(ctx.cancelled && ctx.cancelled())) {
        (void)db->ExecScript("ROLLBACK");
        ++lock_retries;
        progress.event = Progress::Event::kRetry;
        progress.message = "lock_timeout (" + Ms(ctx.lock_timeout) + ") in the batch after key " +
                           last.value_or("(none)") + "; retry " + std::to_string(lock_retries) + " of " +
                           std::to_string(ctx.lock_retries) + " in " + Ms(backoff);
        emit(Progress::Event::kRetry);
        progress.message.clear();
        clock->SleepFor(backoff);
        backoff = std::min(backoff * 2, ctx.lock_retry_max);
        continue;
      }
      out.retries = lock_retries;
      return fail(us.WithContext("batch " + *lo + " .. " + *hi + " of " + spec.table));
    }
    CrashPoint("backfill-batch");
    auto a = db->Query(advance, {progress_key, *hi, std::to_string(u->affected)});
    if (!a.ok()) return fail(a.status().WithContext("recording the backfill's progress"));
    if (a->Get(0, 0) != "1") return fail(Status::Failed("the progress row of " + progress_key + " was deleted meanwhile"));
    s = db->ExecScript("COMMIT");
    if (!s.ok()) return fail(s.WithContext("committing batch " + *lo + " .. " + *hi));
    CrashPoint("backfill-committed");
    last = hi;
    lock_retries = 0;
    backoff = ctx.lock_retry_initial;
    const int blocked = std::stoi(a->Get(0, 1, "0"));
    pacer.BatchFinished(u->affected, blocked);
    progress.rows_done = done_before + pacer.rows_done();
    progress.rows_per_second = pacer.rate();
    progress.eta_seconds = pacer.EtaSeconds(total, done_before);
    progress.batch_size = pacer.batch_size();
    progress.last_key = *hi;
    if (blocked > 0) {
      LogInfo("sql_backfill_blocking", {{"version", m.version}, {"blocked", std::to_string(blocked)},
                                        {"next_batch", std::to_string(pacer.batch_size())}});
    }
    emit(Progress::Event::kBackfill);
  }
  out.statements_applied = 1;
  out.retries = lock_retries;
  out.duration_ms = ElapsedMs(clock, t0);
  progress.statement_index = 1;
  emit(Progress::Event::kMigrationDone);
  LogInfo("sql_backfill_done", {{"version", m.version}, {"rows", std::to_string(progress.rows_done)},
                                {"duration_ms", std::to_string(out.duration_ms)}});
  return out;
}

}  // namespace su
