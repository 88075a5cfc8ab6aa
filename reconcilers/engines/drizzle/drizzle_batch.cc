// RunDrizzleBatch (see drizzle_batch.h).
#include "reconcilers/engines/drizzle/drizzle_batch.h"

#include <algorithm>
#include <chrono>
#include <string_view>

namespace su {
namespace {

long long MsSince(Clock* clock, Clock::MonoTimePoint start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock->MonotonicNow() - start).count();
}

std::string Ms(std::chrono::milliseconds d) { return std::to_string(std::max<long long>(0, d.count())) + "ms"; }

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

std::string DrizzleHistoryInsert(const std::string& history_table, const DrizzleMigration& m) {
  // Exactly drizzle-orm's row: its hash and its journal `when` (node-pg sends the number as its
  // decimal text, which the bigint column parses as this literal does), id from the SERIAL.
  return "insert into " + history_table + " (\"hash\", \"created_at\") values(" + QuoteLiteral(m.hash) + ", " +
         QuoteLiteral(std::to_string(m.entry.when)) + ")";
}

DrizzleBatchResult RunDrizzleBatch(Database* db, const std::string& history_table,
                                   const std::vector<const DrizzleMigration*>& batch, const RunContext& ctx,
                                   const DrizzleRecordRows& extra) {
  DrizzleBatchResult r;
  r.duration_ms.assign(batch.size(), 0);
  r.statements_run.assign(batch.size(), 0);
  Clock* clock = ctx.clock ? ctx.clock : RealClock();
  const int total = static_cast<int>(batch.size());
  if (ctx.on_session) ctx.on_session(db->BackendPid());

  // Our own statements, sent ahead of the next migration statement in the same simple query (never
  // after one: a part of a drizzle file may end in a line comment that would swallow a ";"). owner:
  // the batch index of the migration each one records, -1 for BEGIN and the timeouts.
  std::vector<std::string> prefix = {"BEGIN", "SET LOCAL lock_timeout = '" + Ms(ctx.lock_timeout) + "'",
                                     "SET LOCAL statement_timeout = '" + Ms(ctx.statement_timeout) + "'"};
  std::vector<int> owner = {-1, -1, -1};
  bool sent = false;  // something went to the server: a failure must end the transaction
  auto send = [&](std::string_view last, int* failed) {
    std::vector<std::string_view> b(prefix.begin(), prefix.end());
    b.push_back(last);
    sent = true;
    return db->ExecBatch(b, failed);
  };
  auto rollback = [&] {
    // Outside a transaction (the server refused the whole query before BEGIN ran) this is a
    // warning, not an error; on a broken connection the server rolls back by itself.
    if (sent) (void)db->ExecScript("ROLLBACK");
  };
  // A failure in one of our prefixed statements (index into prefix).
  auto fail_ours = [&](size_t i, const Status& s) {
    if (owner[i] < 0) {
      r.status = Classify(s, ctx).WithContext("starting the migration transaction");
      return;
    }
    r.failed = owner[i];
    r.status = s.WithContext("recording " + batch[owner[i]]->entry.tag + " in " + history_table);
  };

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
        rollback();
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
      int failed = -1;
      Status s = send(st.text, &failed);
      if (!s.ok()) {
        rollback();
        if (failed >= 0 && static_cast<size_t>(failed) < prefix.size()) {
          fail_ours(static_cast<size_t>(failed), s);
          return r;
        }
        r.status = Classify(s, ctx);
        r.failed = k;
        r.failed_statement = st.index;
        r.duration_ms[k] = MsSince(clock, start);
        return r;
      }
      prefix.clear();
      owner.clear();
      ++r.statements_run[k];
    }
    r.duration_ms[k] = MsSince(clock, start);
    prefix.push_back(DrizzleHistoryInsert(history_table, m));
    owner.push_back(k);
    if (extra) {
      for (std::string& row : extra(k, r.duration_ms[k])) {
        prefix.push_back(std::move(row));
        owner.push_back(k);
      }
    }
  }
  // The last migration's rows and COMMIT: one round trip.
  int failed = -1;
  Status c = send("COMMIT", &failed);
  if (!c.ok()) {
    rollback();
    if (failed >= 0 && static_cast<size_t>(failed) < prefix.size()) {
      fail_ours(static_cast<size_t>(failed), c);
    } else {
      r.status = Classify(c, ctx).WithContext("COMMIT of the migration batch");
      r.failed = total - 1;
    }
  }
  return r;
}

}  // namespace su
