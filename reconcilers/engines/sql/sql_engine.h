// The native `sql` engine: a folder of `<version>_<name>.up.sql` (+ optional `.down.sql`) files
// (see sql_folder.h), history in popx's `schema_migration` plus our `schema_upgrade_checksum`
// (see sql_history.h), one audit row per migration run in `schema_upgrade_log`.
//
// Beyond the Engine contract (engine.h):
//  - Observe() lists drift (recorded checksum != file), unknown versions (in the database, no file:
//    not an error) and, in notes, invalid indexes left by a failed CREATE INDEX CONCURRENTLY of a
//    pending file. A drift entry is `accepted` when its version (or "*") is in the factory's
//    accept_drift list; Apply() also accepts what ctx.accept_drift lists.
//  - Apply() refuses with kGated, before changing anything, while any drift is unaccepted. An
//    accepted drift stores the file's new checksum and writes an audit row "drift-accepted".
//    Invalid indexes of a pending file are dropped (DROP INDEX CONCURRENTLY IF EXISTS) before it
//    runs again. Pending files are those whose version is not in the history, in version order
//    (an older file that appears later is applied too, as popx does).
//  - Apply() with ctx.approved compares the pending files (up and down checksums) read under the
//    lock with the approved list and refuses (kGated, plan_changed) before anything changes when
//    they differ; ctx.before_migration is asked before each file. Observe() reports each pending
//    file's down checksum.
//  - Rollback(to) runs the .down.sql of every applied version newer than `to`, newest first;
//    RollbackVersions(v) those of exactly the versions v (skipping ones no longer applied). Each
//    runs in its own transaction that also deletes its history rows; audit direction "down".
//    Refuses (nothing changed) when any of them has no down file (kInvalidArgument) or, with
//    ctx.approved, a down file whose checksum is not the approved one (kGated).
//  - Apply and the rollbacks report the history's version afterwards (RunReport::current_version),
//    also after a failure.
//  - Files that start with `-- schema-upgrade: no-transaction`, and popx `.autocommit` files, run
//    outside a transaction; their statements should be idempotent (IF NOT EXISTS): after a
//    failure the file runs again from the top on the next apply.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/engines/engine.h"

namespace su {

// sets_lock_timeout: the run's RunContext.lock_timeout will be > 0 (policy.lockTimeout), so the
// plan's lint does not report missing-lock-timeout.
std::unique_ptr<Engine> NewSqlEngine(FileSystem* fs, std::string folder, std::string schema = "public",
                                     std::vector<std::string> accept_drift = {}, bool sets_lock_timeout = false);

}  // namespace su
