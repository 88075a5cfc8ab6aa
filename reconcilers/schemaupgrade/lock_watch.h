// PgMigrationWatch: while a migration runs, a second session polls pg_stat_activity every
// `interval` for sessions blocked behind the migration's backend (pg_blocking_pids), reports them
// (callback, log line `lock.blocked`), and when one has waited longer than the limit cancels the
// migration's statement once (the reconciler then retries later). Application traffic stuck behind
// an ACCESS EXCLUSIVE lock is an outage; cancelling the migration ends it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "reconcilers/schemaupgrade/reconciler.h"

namespace su {

std::unique_ptr<MigrationWatch> NewPgMigrationWatch(const std::string& dsn,
                                                    std::chrono::milliseconds interval = std::chrono::seconds(2));

}  // namespace su
