// schema_migration and schema_upgrade_checksum access (see sql_history.h).
#include "reconcilers/engines/sql/sql_history.h"

#include <algorithm>

#include "reconcilers/base/clock.h"
#include "reconcilers/engines/sql/sql_folder.h"

namespace su {

std::string SqlHistory::MigrationTable() const { return QuoteIdent(schema_) + "." + QuoteIdent("schema_migration"); }
std::string SqlHistory::ChecksumTable() const {
  return QuoteIdent(schema_) + "." + QuoteIdent("schema_upgrade_checksum");
}

Status SqlHistory::Ensure() {
  // Fast path for every run after the first: one round trip, no catalog locks.
  const std::string self_idx = QuoteIdent(schema_) + "." + QuoteIdent("schema_migration_version_self_idx");
  auto exists = db_->Query("SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND "
                           "to_regclass($3) IS NOT NULL",
                           {MigrationTable(), ChecksumTable(), self_idx});
  if (!exists.ok()) return exists.status().WithContext("checking the migration history tables");
  if (exists->Get(0, 0) == "t") return Status::Ok();

  auto tx = Transaction::Begin(db_);
  if (!tx.ok()) return tx.status();
  // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalog; serialise creators.
  SU_RETURN_IF_ERROR(db_->Exec("SELECT pg_advisory_xact_lock(7263510002)"));
  auto schema = db_->Query("SELECT 1 FROM pg_namespace WHERE nspname = $1", {schema_});
  if (!schema.ok()) return schema.status();
  if (schema->rows.empty()) {
    SU_RETURN_IF_ERROR(db_->Exec("CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(schema_))
                           .WithContext("creating schema " + schema_ + " for the migration history"));
  }
  SU_RETURN_IF_ERROR(db_->Exec("CREATE TABLE IF NOT EXISTS " + MigrationTable() +
                               " (version VARCHAR(48) NOT NULL, version_self INT NOT NULL DEFAULT 0)")
                         .WithContext("creating the schema_migration table"));
  SU_RETURN_IF_ERROR(db_->Exec("CREATE UNIQUE INDEX IF NOT EXISTS " + QuoteIdent("schema_migration_version_idx") +
                               " ON " + MigrationTable() + " (version)")
                         .WithContext("creating the schema_migration index"));
  // popx creates this one too; tables written by older versions of this tool (or by hand) lack it
  // and get it here. schema_migration is small, so a plain CREATE INDEX is brief.
  SU_RETURN_IF_ERROR(db_->Exec("CREATE INDEX IF NOT EXISTS " + QuoteIdent("schema_migration_version_self_idx") +
                               " ON " + MigrationTable() + " (version_self)")
                         .WithContext("creating the schema_migration version_self index"));
  SU_RETURN_IF_ERROR(db_->Exec("CREATE TABLE IF NOT EXISTS " + ChecksumTable() +
                               " (version VARCHAR(48) PRIMARY KEY, name text NOT NULL DEFAULT '', checksum text "
                               "NOT NULL DEFAULT '', applied_at timestamptz NOT NULL DEFAULT now())")
                         .WithContext("creating the schema_upgrade_checksum table"));
  return tx->Commit();
}

Result<std::vector<AppliedMigration>> SqlHistory::ReadApplied() {
  // Steady state, one round trip: both tables exist (every run after the first). A missing table
  // (42P01: a new database, or popx's table without ours) falls back to asking first.
  // ORDER BY the indexed column lets the server merge-join the two unique indexes with no sort
  // (sorting by (length, version) cost as much as the join); applied_at comes as epoch seconds, not
  // to_char per row. Both halve the server's time for thousands of rows; ToApplied orders numerically.
  auto rows = db_->Query("SELECT m.version, c.name, c.checksum, floor(extract(epoch FROM c.applied_at))::bigint "
                         "FROM " + MigrationTable() + " m LEFT JOIN " + ChecksumTable() +
                         " c ON c.version = m.version ORDER BY m.version");
  if (rows.ok()) return ToApplied(std::move(*rows));
  if (rows.status().sqlstate() != "42P01") return rows.status().WithContext("reading the migration history");
  return ReadAppliedSlow();
}

Result<std::vector<AppliedMigration>> SqlHistory::ReadAppliedSlow() {
  auto exists = db_->Query("SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL",
                           {MigrationTable(), ChecksumTable()});
  if (!exists.ok()) return exists.status().WithContext("reading the migration history");
  std::vector<AppliedMigration> out;
  if (exists->Get(0, 0) != "t") return out;
  bool have_checksums = exists->Get(0, 1) == "t";
  std::string sql =
      have_checksums
          ? "SELECT m.version, c.name, c.checksum, floor(extract(epoch FROM c.applied_at))::bigint FROM " +
                MigrationTable() + " m LEFT JOIN " + ChecksumTable() + " c ON c.version = m.version"
          : "SELECT version, NULL, NULL, NULL FROM " + MigrationTable();
  auto rows = db_->Query(sql);
  if (!rows.ok()) return rows.status().WithContext("reading the migration history");
  return ToApplied(std::move(*rows));
}

std::vector<AppliedMigration> SqlHistory::ToApplied(QueryResult&& rows) {
  std::vector<AppliedMigration> out;
  out.reserve(rows.rows.size());
  // The values are moved out, not copied: thousands of rows on every observation.
  auto take = [](std::optional<std::string>& v) { return v ? std::move(*v) : std::string(); };
  for (auto& row : rows.rows) {
    AppliedMigration a;
    a.version = take(row[0]);
    a.name = take(row[1]);
    a.checksum = take(row[2]);
    if (row[3] && !row[3]->empty()) a.applied_at = FormatUnixSeconds(std::stoll(*row[3]));
    out.push_back(std::move(a));
  }
  // Numeric order (the table's text order puts "10" before "9"). The steady-state query orders by
  // the text, which is this order when versions have one width (timestamps, zero-padded numbers):
  // checking costs n comparisons. Unpadded numbers in text order come right after a stable sort
  // by length; only leading zeros of different widths need the full sort.
  auto less = [](const AppliedMigration& a, const AppliedMigration& b) {
    int c = CompareVersions(a.version, b.version);
    return c != 0 ? c < 0 : a.version < b.version;
  };
  if (std::is_sorted(out.begin(), out.end(), less)) return out;
  std::stable_sort(out.begin(), out.end(),
                   [](const AppliedMigration& a, const AppliedMigration& b) { return a.version.size() < b.version.size(); });
  if (!std::is_sorted(out.begin(), out.end(), less)) std::sort(out.begin(), out.end(), less);
  return out;
}

std::string SqlHistory::RecordSql(const std::string& version, const std::string& name,
                                  const std::string& checksum) const {
  // Values are a digit string, a [A-Za-z0-9_-] name and a hex digest (see sql_folder.h), quoted
  // anyway.
  return "WITH h AS (INSERT INTO " + MigrationTable() + " (version, version_self) VALUES (" + QuoteLiteral(version) +
         ", 0)) INSERT INTO " + ChecksumTable() + " (version, name, checksum, applied_at) VALUES (" +
         QuoteLiteral(version) + ", " + QuoteLiteral(name) + ", " + QuoteLiteral(checksum) +
         ", now()) ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, "
         "applied_at = EXCLUDED.applied_at";
}

std::string SqlHistory::RemoveSql(const std::string& version) const {
  return "WITH h AS (DELETE FROM " + MigrationTable() + " WHERE version = " + QuoteLiteral(version) +
         ") DELETE FROM " + ChecksumTable() + " WHERE version = " + QuoteLiteral(version);
}

Status SqlHistory::UpdateChecksum(const std::string& version, const std::string& name, const std::string& checksum) {
  return db_
      ->Exec("INSERT INTO " + ChecksumTable() +
                 " (version, name, checksum, applied_at) VALUES ($1, $2, $3, now()) ON CONFLICT (version) DO UPDATE "
                 "SET name = EXCLUDED.name, checksum = EXCLUDED.checksum",
             {version, name, checksum})
      .WithContext("updating the checksum of migration " + version);
}

}  // namespace su
