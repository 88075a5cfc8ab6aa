// One attempt at the pending batch, in ONE transaction with ONE commit (drizzle-orm's design):
// BEGIN and SET LOCAL of both timeouts, every statement of every pending migration one at a time,
// after each migration drizzle-orm's history INSERT and the caller's extra rows (our audit row),
// COMMIT. Round trips: one per statement plus one for the last migration's rows and COMMIT (BEGIN
// rides with the first statement, each migration's rows with the next statement). On any failure
// the transaction is rolled back, so the database is as before the attempt, audit rows included.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"
#include "reconcilers/engines/drizzle/drizzle_folder.h"
#include "reconcilers/engines/engine.h"

namespace su {

struct DrizzleBatchResult {
  Status status;
  int failed = -1;             // index into the batch of the failing migration, -1 if none
  int failed_statement = 0;    // 1-based; 0 when not statement-specific (e.g. COMMIT)
  std::vector<long long> duration_ms;  // per migration of the batch (ran statements)
  std::vector<int> statements_run;     // per migration, statements that succeeded
};

// More rows to write in the batch's transaction once migration k (index into the batch) has run
// all its statements, in duration_ms: complete SQL statements with quoted literals (they travel in
// a simple query). They commit with the migration or roll back with it.
using DrizzleRecordRows = std::function<std::vector<std::string>(int k, long long duration_ms)>;

// drizzle-orm's history row for m, as a complete statement: its hash and its journal `when`.
std::string DrizzleHistoryInsert(const std::string& history_table, const DrizzleMigration& m);

// history_table: quoted "schema"."table". batch: the pending migrations in order. extra: may be
// empty.
DrizzleBatchResult RunDrizzleBatch(Database* db, const std::string& history_table,
                                   const std::vector<const DrizzleMigration*>& batch, const RunContext& ctx,
                                   const DrizzleRecordRows& extra = {});

}  // namespace su
