// Live facts for lint ranking: the row estimates of the tables the pending migrations' findings
// name, read from the database the plan is for (one query, only when there are findings).
#pragma once

#include "reconcilers/database/database.h"
#include "reconcilers/engines/engine.h"

namespace su {

// Sets state.table_rows for every finding's table that exists now (pg_class.reltuples, clamped
// at 0 for a table never analyzed; when one name exists in several schemas, the largest).
// Reads only. Ok and nothing set when no pending finding names a table.
Status AddLiveTableRows(Database* db, EngineState& state);

}  // namespace su
