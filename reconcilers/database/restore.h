// Restore of a pg_dump -Fc backup over the live database, all or nothing, as the database was:
//   - ownership and privileges come from the dump (no --no-owner: the restoring role must be able
//     to give objects to their owners, i.e. be a superuser or a member of every owning role; when
//     it cannot, the restore fails as a whole and says so);
//   - one psql transaction: take ACCESS EXCLUSIVE on every user table first (under lock_timeout,
//     so the restore queues behind a lock for at most that long), check for writes made since the
//     backup, keep every sequence's last value, set the tool's audit tables aside, drop every user
//     schema, every large object and every publication (objects the failed upgrade created go
//     too), replay the dump, set each sequence back to at least the value it had already issued
//     (ids handed to clients before the restore are never handed out again), put the audit tables
//     back and, when asked, insert the restore's own audit row;
//   - the transaction is the script's own BEGIN ... COMMIT, not psql's --single-transaction: a
//     script cut short (the caller killed while it fed psql's stdin) ends without COMMIT and
//     restores nothing, where --single-transaction would commit whatever had arrived.
// The audit trail is kept, not restored: every table named schema_upgrade_log (AuditLog's, in any
// schema) is moved into a holding schema before the wipe and its live rows are what the database
// holds afterwards (copied into the dump's table when the dump has one, so objects of the dump
// that depend on it stay valid; else the table itself goes back, creating its schema if needed).
// So the rows of the failed upgrade, of the rollback that led here, and of anything between the
// backup and the restore survive it. The engines' history tables (schema_migration,
// schema_upgrade_checksum, drizzle's, backfill progress) are restored like any table: they
// describe the schema, which is what is put back.
// Writes since the backup: row versions in user tables whose inserting transaction is not visible
// in the snapshot taken just before the dump and is not one of the tool's or the migrations'
// (their transactions also write the history and audit tables, whose row xmins name them). Rows
// inserted or updated by anyone else are counted; deletes (and TRUNCATE) leave no row to count.
// Holds the whole SQL script in memory (fine for the databases this tool targets; see docs/NOTES.md).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "reconcilers/base/process.h"
#include "reconcilers/base/result.h"
#include "reconcilers/database/audit_log.h"

namespace su {

struct RestoreOptions {
  std::chrono::milliseconds lock_timeout{0};  // per lock the restore takes; 0: wait for ever
  std::string backup_snapshot;                // pg_current_snapshot() taken before the dump; empty: no check
  bool allow_data_loss = false;               // restore even when rows were written since the backup
  std::string application_name;               // of the restoring session, so a watch can find it
  // Inserted as a `succeeded` row into public.schema_upgrade_log inside the restore's transaction
  // (started_at: the transaction's start), so the row exists exactly when the restore committed,
  // even if the caller is killed before it could write one. Unset: no row.
  std::optional<AuditEntry> audit_row;
};

struct RestoreReport {
  bool restored = false;            // false: refused because of writes since the backup (nothing changed)
  long long writes_since = -1;      // rows inserted/updated since the backup by others; -1: not checked
  std::string writes_detail;        // "public.users: 13; public.orders: 2"
  bool audit_recorded = false;      // restored, and RestoreOptions::audit_row was inserted with it
};

// kInvalidArgument when `snapshot` (pg_current_snapshot() text kept in status) is not of the
// form xmin:xmax:xip,... (it is written into the restore script).
Status CheckSnapshotText(const std::string& snapshot);

// The psql script PgRestore runs (BEGIN ... COMMIT), built from pg_restore's script of `path`;
// kFailed when pg_restore cannot read the file. Exposed for the crash-safety tests, which feed
// psql a script cut short.
Result<std::string> RestoreScript(ProcessRunner* runner, const std::string& dsn, const std::string& path,
                                  const RestoreOptions& options = {}, const std::string& bin_dir = "");
// Runs a restore script through psql (ON_ERROR_STOP, stdout discarded, PGAPPNAME from options).
Result<ProcessResult> RunRestoreScript(ProcessRunner* runner, const std::string& dsn, std::string script,
                                       const RestoreOptions& options = {}, const std::string& bin_dir = "");

// Restores path over the database. kLockTimeout when a lock was not granted within lock_timeout
// (nothing restored; worth retrying), kCancelled when the session was cancelled, kFailed otherwise.
Result<RestoreReport> PgRestore(ProcessRunner* runner, const std::string& dsn, const std::string& path,
                                const RestoreOptions& options = {}, const std::string& bin_dir = "");

}  // namespace su
