// Reads a folder of `<version>_<name>.up.sql` files with optional `.down.sql` partners: names,
// version order and pairing are validated here; nothing touches a database.
//
// Rules (Ory popx's naming, `<version>_<name>[.<dialect>][.autocommit].(up|down).sql`):
//  - version: a digit string (e.g. 20260515 or the 20-digit Ory style 20150100000001000000),
//    ordered numerically (leading zeros ignored, then by length, then lexically).
//  - name: one or more of [A-Za-z0-9_-] (dots are not allowed: they separate the suffixes).
//  - dialect: postgres (also postgresql, pg, pgx: pop's synonyms) is ours; mysql, mariadb,
//    sqlite3, sqlite, cockroach, cockroachdb and crdb files are skipped; any other word is an
//    error (popx skips it silently, which would hide a typo such as `.postgress`). A version may
//    have a dialect-less file and a `.postgres` one: the `.postgres` one wins, as in popx.
//  - `.autocommit`: the file runs outside a transaction (see sql_engine.h), e.g. for CREATE INDEX
//    CONCURRENTLY. An empty file (or comments only) still records its version.
//  - files that do not end in `.sql` (README.md, .fizz, sub-folders) are ignored.
//  - errors (kInvalidArgument) name the offending file(s): a malformed `.sql` name, two files with
//    the same (numerically equal) version and dialect, a `.down.sql` with no `.up.sql`, an up and a
//    down of the same version with different names, an entry named like a migration that is not a
//    readable regular file (a directory, FIFO, device, looping or dangling symlink, no permission)
//    or is larger than kMaxReadFileBytes, an up file with a NUL byte or invalid UTF-8 (file and
//    byte offset).
//  - checksum: sha256 hex of the up file's bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"
#include "reconcilers/engines/engine.h"
#include "reconcilers/sqltext/directive.h"

namespace su {

struct SqlMigrationFile {
  std::string version;
  std::string name;
  std::string up_path;    // folder/file
  std::string down_path;  // empty when there is no down file
  std::string up_sql;     // contents of the up file
  std::string checksum;   // Sha256Hex(up_sql)
  bool up_autocommit = false;    // popx `.autocommit`: runs outside a transaction
  bool down_autocommit = false;
};

// What a file name says, before pairing.
struct SqlFileName {
  std::string version;
  std::string name;
  bool up = true;        // false for .down.sql
  bool skipped = false;  // not a migration file for PostgreSQL (not .sql, or another dialect)
  bool postgres = false;    // `.postgres` (or a synonym): wins over a dialect-less file
  bool autocommit = false;  // `.autocommit`
};

// Parses one directory entry name. kInvalidArgument naming the file when it ends in .sql but does
// not follow `<digits>_<name>[.<dialect>][.autocommit].(up|down).sql`.
Result<SqlFileName> ParseSqlFileName(const std::string& file);

// <0, 0, >0 like strcmp, comparing two digit strings as numbers of any length.
int CompareVersions(std::string_view a, std::string_view b);

// Lists folder, validates, reads the up files and returns the migrations in version order.
// kNotFound when the folder does not exist.
Result<std::vector<SqlMigrationFile>> ReadSqlFolder(FileSystem* fs, const std::string& folder);
// The same without reading any file (up_sql and checksum empty): names, pairing and order only.
// The engine reads contents through MigrationFileCache (file_cache.h), once per run.
Result<std::vector<SqlMigrationFile>> ListSqlFolder(FileSystem* fs, const std::string& folder);

// ---- Directives of a migration file (sql up files and drizzle files alike) ----
// The `-- schema-upgrade: k=v` header of one migration file (directive.h), with every key
// checked against the one list of known keys (CheckMigrationDirectiveKeys in sql_folder.cc: phase,
// and the backfill keys). `lint-ignore` lines are the linter's and are left out. Errors are
// kInvalidArgument "<file>: line N: ..." (the caller refuses the whole folder: nothing runs).
Result<Directives> ReadMigrationDirectives(const std::string& file, std::string_view text);
// Every key a migration file's directives may use, in one list: phase (expand/contract,
// docs/expand-contract.md), no-transaction, and backfill's (docs/backfill.md). kInvalidArgument
// naming the line and the unknown key.
Status CheckMigrationDirectiveKeys(const Directives& d);
// True when d holds a key other than phase (no-transaction, backfill and its knobs): such a file
// must go through PrepareMigration's checks (sql_prepare.h) wherever it is read (drizzle, lint).
bool DirectivesBeyondPhase(const Directives& d);
// phase=expand (the default when absent) or phase=contract; anything else is kInvalidArgument
// naming the file, the line and the allowed values.
Result<MigrationPhase> MigrationPhaseOf(const std::string& file, const Directives& d);

}  // namespace su
