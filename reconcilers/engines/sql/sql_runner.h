// Runs one prepared migration file against a session: statement by statement (so progress and the
// failing statement are known), then a history write, with the policy's timeouts.
//  - Transactional files: BEGIN; SET LOCAL lock_timeout/statement_timeout; statements;
//    record.before(); record.sql; COMMIT, in one round trip per statement (BEGIN rides with the
//    first statement, the record rows and COMMIT with the last) and one commit. Any failure rolls
//    the whole file back, history and audit row included.
//  - No-transaction files: session-level SET of both timeouts, each statement on its own, then
//    the record rows in one implicit transaction of their own after the last statement succeeds,
//    then RESET of both timeouts (also after a failure).
//  - SQLSTATE 55P03 (lock_timeout): rolled back and retried up to ctx.lock_retries times, sleeping
//    on ctx.clock from lock_retry_initial doubling to lock_retry_max; a kRetry progress event each
//    time. A no-transaction file resumes at the statement that timed out (the earlier ones are
//    committed).
//  - ctx.cancelled is checked before every statement; ctx.on_session gets the backend pid first.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"
#include "reconcilers/engines/engine.h"
#include "reconcilers/engines/sql/sql_prepare.h"

namespace su {

struct FileRunOutcome {
  Status status;
  int statements_applied = 0;  // committed (transactional files: all or 0)
  int failed_index = 0;        // 1-based statement that failed; 0 when not statement-specific
  int failed_line = 0;
  std::string failed_summary;
  int retries = 0;
  long long duration_ms = 0;
};

// The history write that makes a file count as applied (or rolled back). `sql` returns the
// statements (values already quoted, one SQL statement each) that record it: the history row and
// the audit row. For a transactional file they travel in the same simple query as the last
// statement and COMMIT (in_transaction true: the audit row may use now(), the migration's start);
// for a no-transaction file they run as one implicit transaction after the last statement, and
// elapsed_ms says how long the file took. `before` (may be empty) runs just ahead of them in a
// transaction of their own making, for parameterised writes; it costs the batching.
struct RecordStep {
  std::function<Status()> before;
  std::function<std::vector<std::string>(bool in_transaction, long long elapsed_ms)> sql;
};

// progress carries version, name, migration_index and migrations_total; the runner fills in the
// rest.
FileRunOutcome RunMigrationFile(Database* db, const PreparedMigration& m, const RunContext& ctx, Progress progress,
                                const RecordStep& record);

// "statement N (line L): summary" of a failed file, empty when the failure is not a statement's.
std::string FailedStatementRef(const FileRunOutcome& o);
// A statement_timeout (SQLSTATE 57014 with the server's "statement timeout" text), not a cancel.
bool IsStatementTimeout(const Status& s);
// The status a person can act on after RunMigrationFile or RunBackfill failed: which file (what:
// "migration 2026..._fill", "drizzle migration 0001_fill"), which statement, what state it left
// (a backfill keeps its committed batches and resumes), what to do next. Keeps the code/SQLSTATE.
Status FileFailureStatus(const std::string& what, const PreparedMigration& m, const FileRunOutcome& o,
                         const RunContext& ctx);

// Helpers sql_runner.cc and sql_backfill.cc share (one definition: a unity build, `make demo`'s,
// compiles both files as one).
namespace sql_runner {
// "500ms": a duration as SET lock_timeout / statement_timeout take it and messages show it; < 0 is 0.
std::string Ms(std::chrono::milliseconds d);
// Milliseconds since start on clock's monotonic time.
long long ElapsedMs(Clock* clock, Clock::MonoTimePoint start);
}  // namespace sql_runner

}  // namespace su
