// Turns one migration file's text into what the runner needs: its statements (with lines), the
// no-transaction marker, and the index names it builds CONCURRENTLY (so an invalid index left by
// a failed build can be found and dropped before the retry). Pure functions; no I/O.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconcilers/base/file_cache.h"
#include "reconcilers/base/result.h"
#include "reconcilers/engines/sql/sql_backfill.h"
#include "reconcilers/sqltext/statement.h"

namespace su {

struct PreparedMigration {
  std::string version;
  std::string name;
  std::string file;      // path, for messages
  std::string checksum;  // sha256 hex of the file
  bool no_transaction = false;
  // The file's text, held once; statements are views into it (a 40 MB file is not copied per
  // statement, per plan or per apply).
  std::shared_ptr<const std::string> source;
  std::vector<SqlStatementRef> statements;
  // Index names as written in the file (possibly quoted or schema-qualified, fit for to_regclass)
  // of every CREATE [UNIQUE] INDEX CONCURRENTLY <name> statement.
  std::vector<std::string> concurrent_indexes;
  // Set for a `-- schema-upgrade: backfill ...` file: it runs in batches (sql_backfill.h).
  std::optional<BackfillSpec> backfill;
};

// Splits and checks a file. Errors (kInvalidArgument) name the file and line: a split error, or a
// transaction-control statement (BEGIN, COMMIT, ROLLBACK, END, ABORT, START TRANSACTION) in a file
// that runs inside our transaction, where it would commit half a migration behind our back.
// autocommit (a popx `.autocommit` file name) makes the file run outside a transaction, like the
// `-- schema-upgrade: no-transaction` marker.
// The text is copied once into the result's source.
Result<PreparedMigration> PrepareMigration(const std::string& version, const std::string& name,
                                           const std::string& file, const std::string& sql,
                                           bool autocommit = false);
// The same over a cached file (no copy: the result shares `text`; checksum is text->checksum).
Result<PreparedMigration> PrepareMigration(const std::string& version, const std::string& name,
                                           const std::string& file, std::shared_ptr<const MigrationText> text,
                                           bool autocommit = false);

// The index name of a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] <name> ON ...` statement,
// empty when the statement is something else or the index is unnamed.
std::string ConcurrentIndexName(std::string_view statement);

}  // namespace su
