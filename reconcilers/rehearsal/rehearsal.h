// Rehearsal: runs a plan's pending migrations on a scratch copy of the database (scratch_database.h)
// through the same engine, and reports per migration: duration, the statements with their rows and
// durations, the locks each statement took (sampled from pg_locks for the migration's backend from
// a second session, while it runs and right after each statement) and how long they were held,
// the sizes of the tables involved, and the error. The copy is dropped before Rehearse returns,
// on success and on failure. The real database is only read (by pg_dump, or as a TEMPLATE).
// Engines that run a migrator of their own against a DSN (ory) are rebuilt for the copy's DSN
// (RehearsalOptions::engine_for_copy) and measured from outside (migrator_recorder.h): durations
// from the history rows appearing, the locks of every session on the copy, no statements.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reconcilers/engines/engine.h"
#include "reconcilers/rehearsal/scratch_database.h"

namespace su {

struct RehearsedLock {
  std::string relation;   // schema.name (the copy's), or "(dropped, oid N)"
  std::string mode;       // e.g. AccessExclusiveLock
  int statement = 0;      // 1-based statement of the migration that first held it
  long long held_ms = 0;  // from that statement's start to the first sample without it (upper bound)
  bool waited = false;    // seen not granted at least once
};

struct RehearsedStatement {
  int index = 0;            // 1-based within the migration
  std::string summary;      // SummarizeStatement()
  long long duration_ms = 0;
  long long rows = -1;      // rows affected (INSERT/UPDATE/DELETE) or returned; -1: not known
  std::string error;        // non-empty when it failed
};

struct RehearsedTable {
  std::string name;         // schema.name
  long long rows = 0;       // pg_class.reltuples on the copy after the rehearsal (estimate; -1: never analyzed)
  long long bytes = 0;      // pg_total_relation_size on the copy after the rehearsal
};

// Rows a table gained, changed and lost over a migrator's whole run (the ory engine): the
// difference of pg_stat_user_tables' n_tup_ins / n_tup_upd / n_tup_del on the copy before the
// migrator started and after its last session left (migrator_recorder.h).
struct RehearsedRowCount {
  std::string table;        // schema.name (the copy's)
  long long inserted = 0;
  long long updated = 0;
  long long deleted = 0;
};

struct RehearsedMigration {
  std::string version;
  std::string name;
  long long duration_ms = 0;
  bool ok = false;
  std::string error;        // the engine's message when this migration failed
  std::vector<RehearsedStatement> statements;
  std::vector<RehearsedLock> locks;
  std::vector<RehearsedTable> tables;
};

struct RehearsalReport {
  bool ran = false;                 // false: not attempted (see skipped)
  std::string skipped;              // why it was not run (e.g. the ory engine)
  bool ok = false;                  // every pending migration applied on the copy
  std::string copy_method;          // template | dump-restore
  std::string template_skipped;     // why TEMPLATE was not used
  std::string scratch_database;     // the copy's name (dropped by now)
  bool other_server = false;        // the copy was on the rehearsal server (policy.rehearseOn)
  long long copy_ms = 0;
  long long total_ms = 0;           // migrations only
  std::vector<RehearsedMigration> migrations;
  // The failure: a migration that failed, or the copy/connection that could not be made.
  std::string error;
  std::string failed_version;
  int failed_statement = 0;         // 1-based, 0 when not statement-specific
  std::string failed_summary;
  bool dropped = false;             // the copy was dropped
  std::string drop_error;
  // How it was measured, when not statement by statement (the ory migrator); "" otherwise.
  std::string measured;
  // The ory migrator: rows touched per table over the whole run (its statements are inside the
  // image, so not per migration), most first, the migrator's history table left out; tables
  // with no change are not listed. rows_measured: whether the counts were read at all (false when
  // not a migrator run, or the statistics could not be read: rows_note says why); rows_note also
  // says when they may be short (a session of the migrator had not left when they were read).
  std::vector<RehearsedRowCount> rows_touched;
  bool rows_measured = false;
  std::string rows_note;
};

struct RehearsalOptions {
  ScratchOptions scratch;
  std::chrono::milliseconds sample_interval{10};
  // Engines bound to a DSN (ory: the migrator container gets the DSN): the same engine built for
  // `copy_dsn` (the copy's DSN in the source's form, MigratorDsn; on the rehearseOn server when
  // set). It must hand the migrator that DSN and nothing that reaches the real database. Empty:
  // such engines are not rehearsed; `engine_for_copy_missing` says why (a default otherwise).
  std::function<Result<std::unique_ptr<Engine>>(const std::string& copy_dsn)> engine_for_copy;
  std::string engine_for_copy_missing;
  std::string migrator_history_table = "schema_migration";  // popx's, polled on the copy
};

// Copies the database behind source_dsn, applies what `engine` finds pending there (with
// ctx.approved, exactly the planned migrations), reports, drops the copy. Never returns an error:
// a failure is in the report (ok == false, error). ctx.on_progress / on_session are chained.
RehearsalReport Rehearse(Engine* engine, const std::string& source_dsn, const RehearsalOptions& options,
                         const RunContext& ctx);

// One line: "rehearsal ok on a copy (template, 120 ms): 3 migration(s) in 45 ms, longest lock
// AccessExclusiveLock on public.users 12 ms" or the failure.
std::string RehearsalSummary(const RehearsalReport& r);
// Plain-text and markdown sections for `plan --rehearse`.
std::string RenderRehearsalText(const RehearsalReport& r);
std::string RenderRehearsalMarkdown(const RehearsalReport& r);

}  // namespace su
