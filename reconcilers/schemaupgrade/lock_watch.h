// PgMigrationWatch: while a migration (or a restore) runs, a second session polls pg_stat_activity
// every `interval` for sessions blocked behind the migration's backend (pg_blocking_pids), reports
// them (callback, log line `lock.blocked`), and when one has waited on its lock longer than the
// limit cancels the migration's statement once (the reconciler then retries later). Application
// traffic stuck behind an ACCESS EXCLUSIVE lock is an outage; cancelling the migration ends it.
//
// A wait is measured from when the blocked session started waiting for its lock (pg_locks.waitstart,
// PostgreSQL 14+), or, when the server does not say, from the poll that first saw it blocked; never
// from query_start, so a statement that worked for a long time before it touched the migration's
// rows is not counted as waiting all that time. Start() opens the watch's session before returning
// and fails (kUnavailable) when it cannot: the caller decides whether to run unwatched.
// StartLazy() opens it only once a statement has run for open_after (policy.lockWatchAfter):
// a migration of short statements never pays for the second session (a SCRAM login); a failed
// late open is reported through on_unavailable while the statement runs.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "reconcilers/schemaupgrade/reconciler.h"

namespace su {

std::unique_ptr<MigrationWatch> NewPgMigrationWatch(const std::string& dsn,
                                                    std::chrono::milliseconds interval = std::chrono::seconds(2));

}  // namespace su
