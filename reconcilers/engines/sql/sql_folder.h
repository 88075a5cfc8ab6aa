// Reads a folder of `<version>_<name>.up.sql` files with optional `.down.sql` partners: names,
// version order and pairing are validated here; nothing touches a database.
//
// Rules:
//  - version: a digit string (e.g. 20260515 or the 20-digit Ory style 20150100000001000000),
//    ordered numerically (leading zeros ignored, then by length, then lexically).
//  - name: one or more of [A-Za-z0-9_-] (dots are not allowed, see dialect below).
//  - popx dialect suffixes are understood: `<v>_<name>.postgres.up.sql` is read as `<v>_<name>`,
//    files for other dialects (mysql, sqlite3, sqlite, cockroach) are skipped, so an Ory
//    migrations folder can be used as it is.
//  - files that do not end in `.sql` (README.md, .fizz, sub-folders) are ignored.
//  - errors (kInvalidArgument) name the offending file(s): a malformed `.sql` name, two files with
//    the same (numerically equal) version, a `.down.sql` with no `.up.sql`, an up and a down of the
//    same version with different names.
//  - checksum: sha256 hex of the up file's bytes.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"

namespace su {

struct SqlMigrationFile {
  std::string version;
  std::string name;
  std::string up_path;    // folder/file
  std::string down_path;  // empty when there is no down file
  std::string up_sql;     // contents of the up file
  std::string checksum;   // Sha256Hex(up_sql)
};

// What a file name says, before pairing.
struct SqlFileName {
  std::string version;
  std::string name;
  bool up = true;        // false for .down.sql
  bool skipped = false;  // not a migration file for PostgreSQL (not .sql, or another dialect)
};

// Parses one directory entry name. kInvalidArgument naming the file when it ends in .sql but does
// not follow `<digits>_<name>[.postgres].(up|down).sql`.
Result<SqlFileName> ParseSqlFileName(const std::string& file);

// <0, 0, >0 like strcmp, comparing two digit strings as numbers of any length.
int CompareVersions(const std::string& a, const std::string& b);

// Lists folder, validates, reads the up files and returns the migrations in version order.
// kNotFound when the folder does not exist.
Result<std::vector<SqlMigrationFile>> ReadSqlFolder(FileSystem* fs, const std::string& folder);

}  // namespace su
