// SQL text handling without a server: splitting a migration file into statements, and the
// per-file markers the engines understand. Pure functions; no I/O.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

struct SqlStatement {
  std::string text;  // the statement without the trailing ';', leading comments/blank lines kept out
  int line = 0;      // 1-based line in the file where the statement's first token is
};

// Splits on ';' outside of single-quoted strings (with '' escapes), E'' strings (backslash
// escapes), double-quoted identifiers, dollar-quoted bodies ($$ and $tag$), -- line comments and
// nested /* */ block comments. Statements that are only whitespace or comments are dropped.
// A final statement without ';' is kept. Errors (kInvalidArgument) for an unterminated string,
// identifier, dollar quote or comment, naming the line where it started.
Result<std::vector<SqlStatement>> SplitStatements(const std::string& sql);

// Drizzle Kit's splitter: the file split on the literal "--> statement-breakpoint", each part
// trimmed, empty parts dropped (byte-compatible with drizzle-orm's readMigrationFiles).
std::vector<std::string> SplitOnBreakpoints(const std::string& sql);

// True when the file's first non-blank line is "-- schema-upgrade: no-transaction".
bool HasNoTransactionMarker(const std::string& sql);

// A one-line summary of a statement for plans: first line, whitespace collapsed, at most
// max_len characters with "..." when cut.
std::string SummarizeStatement(const std::string& statement, size_t max_len = 100);

}  // namespace su
