// The sql engine's history: popx-compatible `schema_migration(version VARCHAR(48) NOT NULL,
// version_self INT NOT NULL DEFAULT 0)` with popx's unique index `schema_migration_version_idx` on
// version and index `schema_migration_version_self_idx` on version_self, plus our
// own `schema_upgrade_checksum(version, name, checksum, applied_at)` for names and drift checks.
// Both live in the configured schema.
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

  // Creates the schema (when missing), both tables and popx's two indexes (idempotent, safe under
  // concurrent callers); adds a missing version_self index to an existing schema_migration.
  Status Ensure();
  // Applied versions in version order; empty when the history table does not exist. Writes nothing.
  // One query when both tables exist.
  // name/checksum/applied_at are empty for rows written by another tool (e.g. Ory's migrator).
  Result<std::vector<AppliedMigration>> ReadApplied();
  // The history and checksum rows of a version, inserted (RecordSql) or deleted (RemoveSql) by one
  // statement with quoted values, for a script that also commits (see RecordStep in sql_runner.h).
  std::string RecordSql(const std::string& version, const std::string& name, const std::string& checksum) const;
  std::string RemoveSql(const std::string& version) const;
  // Stores a new checksum for an applied version (accepted drift).
  Status UpdateChecksum(const std::string& version, const std::string& name, const std::string& checksum);

  std::string MigrationTable() const;
  std::string ChecksumTable() const;

 private:
  Result<std::vector<AppliedMigration>> ReadAppliedSlow();
  static std::vector<AppliedMigration> ToApplied(QueryResult&& rows);
  Database* db_;
  std::string schema_;
};

}  // namespace su
