// The rule catalogue. Severity kError is kept for statements that will fail at runtime; the rest
// are warnings a reviewer should weigh (a lint gate refuses on errors only by default).
#include "reconcilers/sqltext/lint_rules.h"

namespace su::sqltext {

const std::vector<LintRule>& AllLintRules() {
  static const std::vector<LintRule> kRules = {
      {"create-index-without-concurrently", LintSeverity::kWarning,
       "CREATE INDEX without CONCURRENTLY on an existing table blocks writes while the index builds",
       "use CREATE INDEX CONCURRENTLY in a file that starts with `-- schema-upgrade: no-transaction`"},
      {"concurrently-in-transaction", LintSeverity::kError,
       "CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY fail "
       "inside a transaction",
       "move the statement to its own file that starts with `-- schema-upgrade: no-transaction`"},
      {"no-transaction-statement-in-transaction", LintSeverity::kError,
       "VACUUM, CREATE/DROP DATABASE, CREATE/DROP TABLESPACE, ALTER SYSTEM and REINDEX DATABASE/SYSTEM "
       "fail inside a transaction",
       "move the statement to its own file that starts with `-- schema-upgrade: no-transaction`"},
      {"add-column-volatile-default", LintSeverity::kWarning,
       "ADD COLUMN with a volatile default (random(), clock_timestamp(), gen_random_uuid(), nextval(), "
       "serial, identity, stored generated) rewrites the whole table under an ACCESS EXCLUSIVE lock",
       "add the column without a default (or with a constant one), set the default afterwards and "
       "backfill existing rows in batches"},
      {"set-not-null", LintSeverity::kWarning,
       "ALTER COLUMN ... SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
       "first ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT c, then SET NOT "
       "NULL (PostgreSQL 12+ skips the scan), then drop the check"},
      {"alter-column-type", LintSeverity::kWarning,
       "changing a column's type rewrites the table and its indexes under an ACCESS EXCLUSIVE lock "
       "(unless the change is binary-compatible, e.g. varchar(n) to text)",
       "add a new column, backfill it in batches, switch readers and writers, then drop the old column"},
      {"add-constraint-not-valid", LintSeverity::kWarning,
       "adding a FOREIGN KEY or CHECK constraint validates every row while holding a lock that blocks writes",
       "ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later statement "
       "(validation takes a weaker lock)"},
      {"add-unique-constraint", LintSeverity::kWarning,
       "ADD UNIQUE / PRIMARY KEY / EXCLUDE builds an index under an ACCESS EXCLUSIVE lock",
       "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX (or PRIMARY KEY "
       "USING INDEX)"},
      {"drop-column", LintSeverity::kWarning,
       "dropping a column breaks the old version of the service that still reads or writes it",
       "stop using the column in a release first, drop it in a later release"},
      {"drop-table", LintSeverity::kWarning,
       "dropping a table destroys data and breaks the old version of the service that still uses it",
       "stop using the table in a release first, back it up, drop it in a later release"},
      {"rename-column", LintSeverity::kWarning,
       "renaming a column breaks the old version of the service during a rolling upgrade",
       "add the new column, write both, backfill, move readers, then drop the old column (expand/contract)"},
      {"rename-table", LintSeverity::kWarning,
       "renaming a table breaks the old version of the service during a rolling upgrade",
       "create the new name as a view over the table (or the reverse) until the old version is gone"},
      {"missing-lock-timeout", LintSeverity::kWarning,
       "DDL on existing tables without SET lock_timeout can queue behind a long query and block all traffic",
       "start the file with SET lock_timeout = '5s' (schema-upgrade sets it from policy.lockTimeout, "
       "other runners such as drizzle-kit or psql do not)"},
      {"vacuum-full", LintSeverity::kWarning,
       "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock",
       "use plain VACUUM, or pg_repack / pg_squeeze to reclaim space online"},
      {"cluster", LintSeverity::kWarning,
       "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock",
       "use pg_repack --order-by to reorder online, or skip it"},
      {"lock-table", LintSeverity::kWarning,
       "LOCK TABLE holds a heavy lock until the migration's transaction ends",
       "remove the explicit lock; if it is needed, keep the transaction short and set lock_timeout"},
      {"truncate", LintSeverity::kWarning,
       "TRUNCATE deletes every row and takes an ACCESS EXCLUSIVE lock",
       "make sure the data loss is intended; delete in batches if the table is in use"},
      {"delete-without-where", LintSeverity::kWarning,
       "DELETE without WHERE removes every row in one long transaction",
       "add a WHERE clause, or delete in batches if removing everything is intended"},
      {"update-without-where", LintSeverity::kWarning,
       "UPDATE without WHERE rewrites every row in one long transaction and locks them all",
       "add a WHERE clause, or backfill in batches (e.g. 1000 rows per statement)"},
  };
  return kRules;
}

const LintRule* FindLintRule(std::string_view id) {
  for (const auto& r : AllLintRules()) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

}  // namespace su::sqltext
