// SQL text handling without a server: splitting a migration file into statements, and the
// per-file markers the engines understand. Pure functions; no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

struct SqlStatement {
  std::string text;  // the statement without the trailing ';', leading comments/blank lines kept out
  int line = 0;      // 1-based line in the file where the statement's first token is
};

// Splits on ';' outside of single-quoted strings (with '' escapes), E'' strings (backslash
// escapes), double-quoted identifiers, dollar-quoted bodies ($$ and $tag$; "$1" is a parameter,
// not a quote), -- line comments, nested /* */ block comments and the BEGIN ATOMIC ... END body
// of a CREATE FUNCTION/PROCEDURE. Statements that are only whitespace or comments are dropped.
// A statement's text runs from its first token to its last token (comments before it and after
// its last token are not included). A final statement without ';' is kept. Errors
// (kInvalidArgument) for an unterminated string, identifier, dollar quote, comment or BEGIN ATOMIC
// body, naming the line where it started ("unterminated quoted string starting at line 3").
Result<std::vector<SqlStatement>> SplitStatements(const std::string& sql);

// The same split as views into `sql` (which must outlive them): no copy of the text, so a large
// file is held once.
struct SqlStatementRef {
  std::string_view text;
  int line = 0;
};
Result<std::vector<SqlStatementRef>> SplitStatementRefs(std::string_view sql);

// Drizzle Kit's splitter, byte-compatible with drizzle-orm's readMigrationFiles, which does
// `query.split('--> statement-breakpoint').map((it) => it)`: parts are NOT trimmed and empty or
// whitespace-only parts are NOT dropped (n markers give n+1 parts; "" gives {""}). drizzle-orm
// then executes every part as is (PostgreSQL answers an empty query without error). A caller
// whose driver rejects empty queries may skip parts for which IsBlankStatement() is true.
std::vector<std::string> SplitOnBreakpoints(const std::string& sql);

// True when the text has no tokens outside comments (only whitespace and comments), so sending
// it to the server would be an empty query. False for unterminated strings or comments.
bool IsBlankStatement(const std::string& sql);

// True when the file's first non-blank line is "-- schema-upgrade: no-transaction" (case and
// spacing around "--" and ":" are tolerated; a UTF-8 byte order mark and CRLF are ignored).
bool HasNoTransactionMarker(std::string_view sql);

// A one-line summary of a statement for plans: its first line that is not blank and not a --
// comment (the first non-blank line if all are comments), whitespace collapsed, at most max_len
// bytes including a "..." suffix when cut (never cut inside a UTF-8 character).
std::string SummarizeStatement(std::string_view statement, size_t max_len = 100);

}  // namespace su
