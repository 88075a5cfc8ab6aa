// RunDrizzleBatch (see drizzle_batch.h).
#include "reconcilers/engines/drizzle/drizzle_batch.h"

#include <chrono>

namespace su {
namespace {

long long MsSince(Clock* clock, Clock::MonoTimePoint start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock->MonotonicNow() - start).count();
}

void Report(const RunContext& ctx, Progress p) {
  if (ctx.on_progress) ctx.on_progress(p);
}

// statement_timeout and a user cancel share SQLSTATE 57014; only the former is the
// migration's fault, so it gets its own code and a message that says which limit hit.
Status Classify(const Status& s, const RunContext& ctx) {
  if (s.code() == Code::kCancelled && s.message().find("statement timeout") != std::string::npos)
    return s.WithCode(Code::kTimeout)
        .WithContext("statement_timeout (" + std::to_string(ctx.statement_timeout.count()) + "ms) reached");
  return s;
}

}  // namespace

DrizzleBatchResult RunDrizzleBatch(Database* db, const std::string& history_table,
                                   const std::vector<const DrizzleMigration*>& batch, const RunContext& ctx) {
  DrizzleBatchResult r;
  r.duration_ms.assign(batch.size(), 0);
  r.statements_run.assign(batch.size(), 0);
  Clock* clock = ctx.clock ? ctx.clock : RealClock();

  auto tx = Transaction::Begin(db);
  if (!tx.ok()) {
    r.status = tx.status().WithContext("starting the migration transaction");
    return r;
  }
  r.status = db->Exec("SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)",
                      {std::to_string(ctx.lock_timeout.count()) + "ms",
                       std::to_string(ctx.statement_timeout.count()) + "ms"});
  if (!r.status.ok()) {
    r.status = r.status.WithContext("setting lock_timeout and statement_timeout");
    return r;
  }
  if (ctx.on_session) ctx.on_session(db->BackendPid());

  const std::string insert = "insert into " + history_table + " (\"hash\", \"created_at\") values($1, $2)";
  const int total = static_cast<int>(batch.size());
  for (int k = 0; k < total; ++k) {
    const DrizzleMigration& m = *batch[k];
    const auto start = clock->MonotonicNow();
    Progress p;
    p.event = Progress::Event::kMigrationStart;
    p.version = m.entry.tag;
    p.name = m.Name();
    p.migration_index = k + 1;
    p.migrations_total = total;
    p.statements_total = static_cast<int>(m.statements.size());
    Report(ctx, p);
    for (const DrizzleStatement& st : m.statements) {
      if (ctx.cancelled && ctx.cancelled()) {
        r.status = Status::Error(Code::kCancelled, "cancelled before statement " + std::to_string(st.index) +
                                                       " of " + m.file);
        r.failed = k;
        r.failed_statement = st.index;
        return r;
      }
      p.event = Progress::Event::kStatement;
      p.statement_index = st.index;
      p.elapsed_ms = MsSince(clock, start);
      Report(ctx, p);
      Status s = db->ExecScript(st.text);
      if (!s.ok()) {
        r.status = Classify(s, ctx);
        r.failed = k;
        r.failed_statement = st.index;
        r.duration_ms[k] = MsSince(clock, start);
        return r;
      }
      ++r.statements_run[k];
    }
    // Exactly drizzle-orm's row: its hash and its journal `when` (node-pg sends the number as
    // its decimal text), id from the SERIAL.
    Status s = db->Exec(insert, {m.hash, std::to_string(m.entry.when)});
    if (!s.ok()) {
      r.status = s.WithContext("recording " + m.entry.tag + " in " + history_table);
      r.failed = k;
      return r;
    }
    r.duration_ms[k] = MsSince(clock, start);
  }
  Status c = tx->Commit();
  if (!c.ok()) {
    r.status = Classify(c, ctx).WithContext("COMMIT of the migration batch");
    r.failed = total - 1;
  }
  return r;
}

}  // namespace su
