// AuditLog: our own record of every migration run, in table schema_upgrade_log (created on first
// use). The table is the tool's, not the application's: a restore from a backup leaves its rows as
// they are (restore.h), so the record of what ran, failed and was rolled back outlives the restore. A row is written *before* a migration starts (status running, outside the migration's
// transaction, so it survives a rollback) and finished after it ends. Rows left "running" by a
// killed process are marked "interrupted" by MarkInterrupted() on the next run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"

namespace su {

struct AuditEntry {
  long long id = 0;
  std::string resource;    // namespace/name of the SchemaUpgrade, or "cli"
  std::string engine;      // sql | drizzle | ory | controller
  std::string version;
  std::string name;
  std::string direction;   // up | down | drift-accepted | backup | restore | bump | rollback-image ...
  std::string checksum;
  std::string status;      // running | succeeded | failed | interrupted | skipped
  std::string started_at;  // RFC 3339
  std::string finished_at;
  long long duration_ms = 0;
  int statements_applied = 0;
  int statements_total = 0;
  std::string error;
  std::string failing_statement;
  std::string actor;       // user@host
  std::string detail;      // free text (e.g. backup path, image names)
};

class AuditLog {
 public:
  // schema: where the table lives (quoted as an identifier).
  explicit AuditLog(Database* db, std::string schema = "public") : db_(db), schema_(std::move(schema)) {}
  // CREATE TABLE IF NOT EXISTS (idempotent; safe under concurrent callers).
  Status Ensure();
  // The CREATE TABLE IF NOT EXISTS and CREATE INDEX IF NOT EXISTS statements Ensure() runs, as SQL
  // text (schema-qualified, so it works under any search_path), for a script that needs the table
  // (the restore's own row, restore.h).
  std::string CreateSql() const;
  // Inserts a row with status "running" and now() as started_at; returns its id.
  Result<long long> Begin(const AuditEntry& e);
  // Sets status, finished_at, duration, statement counts, error and failing statement.
  Status Finish(long long id, const std::string& status, int statements_applied, const std::string& error = "",
                const std::string& failing_statement = "");
  // The UPDATE that Finish(id, status, statements_applied) runs, as SQL text with quoted literals, so
  // a caller can send it in the same round trip as its COMMIT (the engines' hot path).
  std::string FinishSql(long long id, const std::string& status, int statements_applied) const;
  // Inserts a complete row at once (events that are not migrations: backup, bump, ...; and a
  // migration's failed or interrupted row). started_at is now() minus e.duration_ms.
  Status Record(const AuditEntry& e);
  // The INSERT of a migration's complete row with status "succeeded" and every statement applied,
  // as one SQL statement with quoted literals, for the engines to send in the migration's own
  // transaction together with its history row and COMMIT: the row exists exactly when the
  // migration committed, and costs no commit or round trip of its own. duration_ms unset: the
  // row runs inside the migration's transaction, whose start (now()) is when the migration began;
  // set: the migration ran outside a transaction for that long.
  std::string SucceededSql(const AuditEntry& e, std::optional<long long> duration_ms) const;
  // Rows with status running whose backend pid is no longer alive become "interrupted".
  // A database without the table is fine (nothing to mark).
  Status MarkInterrupted();
  // The UPDATE MarkInterrupted runs (fails with 42P01 when the table does not exist), for a caller
  // that sends it together with other work.
  std::string MarkInterruptedSql() const;
  // Marks the start of an upgrade of `resource` (direction "upgrade-start"): what UpgradeApplied()
  // counts from. detail: free text (e.g. the version the database was at).
  Status MarkUpgradeStart(const std::string& resource, const std::string& detail);
  // The versions the current upgrade of `resource` applied and has not rolled back since, in the
  // order they were applied: "up" rows that succeeded after the resource's last "upgrade-start"
  // row, minus those a succeeded "down" row undid later, and none applied before a succeeded
  // "restore" row (the backup is older than the upgrade's start). kNotFound when the resource has no
  // "upgrade-start" row (an upgrade started by an older release).
  Result<std::vector<std::string>> UpgradeApplied(const std::string& resource);
  // The id of the resource's newest row (0: none, or no table yet): rows written later have
  // higher ids, also across a restore (restore.h keeps the table and its sequence).
  Result<long long> LastId(const std::string& resource);
  // The resource's rows with id > after_id, oldest first: id, direction, status, version and
  // detail only. Empty when the table does not exist.
  Result<std::vector<AuditEntry>> Since(const std::string& resource, long long after_id);
  // Newest first. resource empty: all. Returns an empty list when the table does not exist.
  Result<std::vector<AuditEntry>> List(int limit, const std::string& resource = "");

 private:
  std::string Table() const;
  Database* db_;
  std::string schema_;
};

// "user@host" of the current process, for audit rows.
std::string CurrentActor();

}  // namespace su
