// One attempt at the pending batch: BEGIN, SET LOCAL timeouts, every statement of every pending
// migration one at a time, drizzle-orm's history INSERT after each migration, COMMIT. On any
// failure the transaction is rolled back, so the database is as before the attempt.
#pragma once

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

// history_table: quoted "schema"."table". batch: the pending migrations in order.
DrizzleBatchResult RunDrizzleBatch(Database* db, const std::string& history_table,
                                   const std::vector<const DrizzleMigration*>& batch, const RunContext& ctx);

}  // namespace su
