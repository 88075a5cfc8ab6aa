// The `drizzle` engine: applies a Drizzle Kit folder exactly as drizzle-orm's PostgreSQL
// migrator does (same history table, DDL, hashes, created_at values, pending rule, one
// transaction for all pending migrations), so `drizzle-kit migrate` afterwards finds nothing to
// do and either tool can take over from the other. Our additions do not change what is written
// to the history table: statements run one at a time for progress and errors naming the file
// and statement, SET LOCAL lock_timeout/statement_timeout, retry of the whole batch after a
// lock timeout, cancellation between statements, audit rows (written in the batch's transaction:
// one commit for the whole batch, as drizzle-orm), and drift detection.
// A file declaring a backfill (`-- schema-upgrade: backfill table=... key=...`, docs/backfill.md)
// splits the batch: the files before it commit in one transaction, it runs in batches through the
// sql engine's RunBackfill (progress in <audit schema>.schema_upgrade_backfill, its history row
// written in its last transaction), then the files after it in one more transaction.
#pragma once

#include <memory>
#include <string>

#include "reconcilers/base/fs.h"
#include "reconcilers/engines/engine.h"

namespace su {

struct DrizzleEngineOptions {
  std::string migrations_schema = "drizzle";            // drizzle config migrations.schema
  std::string migrations_table = "__drizzle_migrations";  // drizzle config migrations.table
  std::string audit_schema = "public";                  // where schema_upgrade_log lives
};

// folder: the Drizzle Kit "out" folder (holding meta/_journal.json). fs must outlive the engine.
std::unique_ptr<Engine> NewDrizzleEngine(FileSystem* fs, std::string folder);
std::unique_ptr<Engine> NewDrizzleEngine(FileSystem* fs, std::string folder, DrizzleEngineOptions options);

}  // namespace su
