// Batched, resumable backfills for the sql engine (docs/backfill.md). A migration file whose
// leading comment block carries
//     -- schema-upgrade: backfill table=users key=id batch=1000
// holds exactly one statement with two parameters, the first and the last key of a batch (both
// inclusive), e.g.
//     UPDATE users SET email_lower = lower(email) WHERE id BETWEEN $1 AND $2;
// The engine walks the table in key order: each batch's bounds are the next `batch` keys after the
// last committed one (so sparse keys and any orderable type work), and each batch is its own short
// transaction (the policy's lock_timeout and statement_timeout) that also writes the progress row
// (last key, rows done) to `<schema>.schema_upgrade_backfill`. A run killed at any instant
// resumes after the last committed key: no row is updated twice or skipped. When no key is left,
// the history and audit rows are written and the progress row deleted in one transaction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reconcilers/base/result.h"
#include "reconcilers/engines/engine.h"
#include "reconcilers/engines/sql/backfill_pacer.h"
#include "reconcilers/sqltext/directive.h"
#include "reconcilers/sqltext/statement.h"

namespace su {

struct PreparedMigration;
struct FileRunOutcome;
struct RecordStep;

struct BackfillSpec {
  std::string table;  // as written: a name or schema.name; quoted part by part when used
  std::string key;    // column name; quoted when used
  BackfillKnobs knobs;
  int line = 0;       // line of the directive, for messages
};

// Builds the spec from a file's directives (it has `backfill`). Errors (kInvalidArgument) name
// the file, the line and the field: a missing table= or key=, a value that is not a positive
// number or a duration, min-batch above max-batch. Checks the statement too: exactly one, using
// $1 and $2 and no other parameter.
Result<BackfillSpec> ParseBackfill(const std::string& file, const Directives& directives,
                                   const std::vector<SqlStatementRef>& statements);

// Runs (or resumes) the backfill of m (m.backfill set). progress_key names the progress row
// (the version; ".down" appended for a down file). Progress events: kMigrationStart, one
// kStatement, kBackfill after every batch (and while throttled), kMigrationDone.
// Crash points: "backfill-batch" (batch updated, not committed), "backfill-committed".
FileRunOutcome RunBackfill(Database* db, const PreparedMigration& m, const std::string& schema,
                           const std::string& progress_key, const RunContext& ctx, Progress progress,
                           const RecordStep& record);

// The progress row of an unfinished backfill, if any (for status and plan: "resumes after key K").
struct BackfillProgressRow {
  std::string key;
  std::optional<std::string> last_key;
  long long rows_done = 0;
  long long batches = 0;
};
Result<std::vector<BackfillProgressRow>> ReadBackfillProgress(Database* db, const std::string& schema);

// A pending backfill as the plan shows it (PendingBackfill: the directive's table, key and batch
// settings, the table's row estimate, and an interrupted run's progress row). Reads pg_class and
// the progress row only (no count(*) of a big table); writes nothing.
Result<PendingBackfill> ObservePendingBackfill(Database* db, const PreparedMigration& m, const std::string& schema,
                                               const std::string& progress_key);

// The plan's note for it (engines add it to EngineState::notes beside EngineState::backfills):
// "<label> is a backfill of <table> by <key> in batches of N (adaptive), each its own
// transaction; ~R rows (planner estimate)", and after an interrupted run "; an interrupted run
// did D rows in B batches: it resumes after key K".
std::string DescribePendingBackfill(const PendingBackfill& b, const std::string& label);

}  // namespace su
