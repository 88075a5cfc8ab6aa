// What is applied, pending and drifted, computed from a loaded folder and the rows of
// drizzle.__drizzle_migrations exactly as drizzle-orm's PgDialect.migrate decides it:
//   last    = the first row of `ORDER BY created_at DESC LIMIT 1` (NULLs sort first there, and
//             Number(null) is 0, so a NULL created_at makes every entry with when > 0 pending);
//   pending = journal entries, in journal order, with when > Number(last.created_at), or all
//             entries when the table is empty.
// Pure functions, no I/O, so the rules are unit-tested without a server.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reconcilers/engines/drizzle/drizzle_folder.h"
#include "reconcilers/engines/engine.h"

namespace su {

struct DrizzleHistoryRow {
  long long id = 0;
  std::string hash;
  std::optional<long long> created_at;  // nullopt for SQL NULL
};

struct DrizzlePlan {
  EngineState state;
  std::vector<size_t> pending;  // indices into DrizzleFolder::migrations, in apply order
  bool has_last = false;        // false: the history table is empty (or missing)
  long long last_created_at = 0;
};

// accept_drift: versions (tags) whose changed hash is accepted; "*" accepts all.
DrizzlePlan PlanDrizzle(const DrizzleFolder& folder, const std::vector<DrizzleHistoryRow>& rows,
                        const std::vector<std::string>& accept_drift);

// Drift entries of plan.state that are not accepted.
std::vector<DriftedMigration> UnacceptedDrift(const EngineState& state);

}  // namespace su
