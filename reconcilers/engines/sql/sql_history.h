// The sql engine's history: popx-compatible `schema_migration(version VARCHAR(48) NOT NULL,
// version_self INT NOT NULL DEFAULT 0)` with unique index `schema_migration_version_idx`, plus our
// own `schema_upgrade_checksum(version, name, checksum, applied_at)` for names and drift checks.
// Both live in the configured schema. Record/Remove/UpdateChecksum write one statement each, so
// they join the caller's transaction when one is open.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"
#include "reconcilers/engines/engine.h"

namespace su {

class SqlHistory {
 public:
  SqlHistory(Database* db, std::string schema) : db_(db), schema_(std::move(schema)) {}

  // Creates the schema (when missing) and both tables (idempotent, safe under concurrent callers).
  Status Ensure();
  // Applied versions in version order; empty when the history table does not exist. Writes nothing.
  // name/checksum/applied_at are empty for rows written by another tool (e.g. Ory's migrator).
  Result<std::vector<AppliedMigration>> ReadApplied();
  // Inserts the history row and the checksum row (one statement).
  Status Record(const std::string& version, const std::string& name, const std::string& checksum);
  // Deletes the history and checksum rows of version (one statement).
  Status Remove(const std::string& version);
  // Stores a new checksum for an applied version (accepted drift).
  Status UpdateChecksum(const std::string& version, const std::string& name, const std::string& checksum);

  std::string MigrationTable() const;
  std::string ChecksumTable() const;

 private:
  Database* db_;
  std::string schema_;
};

}  // namespace su
