// Runs one prepared migration file against a session: statement by statement (so progress and the
// failing statement are known), then a history write, with the policy's timeouts.
//  - Transactional files: BEGIN; SET LOCAL lock_timeout/statement_timeout; statements; record();
//    COMMIT. Any failure rolls the whole file back, history write included.
//  - No-transaction files: session-level SET of both timeouts, each statement on its own,
//    record() after the last one succeeds, then RESET of both timeouts (also after a failure).
//  - SQLSTATE 55P03 (lock_timeout): rolled back and retried up to ctx.lock_retries times, sleeping
//    on ctx.clock from lock_retry_initial doubling to lock_retry_max; a kRetry progress event each
//    time. A no-transaction file resumes at the statement that timed out (the earlier ones are
//    committed).
//  - ctx.cancelled is checked before every statement; ctx.on_session gets the backend pid first.
#pragma once

#include <functional>
#include <string>

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

// progress carries version, name, migration_index and migrations_total; the runner fills in the
// rest. record() writes (or deletes) the history rows; it runs inside the transaction when there
// is one.
FileRunOutcome RunMigrationFile(Database* db, const PreparedMigration& m, const RunContext& ctx, Progress progress,
                                const std::function<Status()>& record);

}  // namespace su
