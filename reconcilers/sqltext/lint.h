// Migration linter: flags statements that take heavy locks or rewrite big tables, with the rule,
// the file:line, and the safe alternative. Pure functions; no server needed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

enum class LintSeverity { kWarning, kError };

struct LintFinding {
  std::string file;
  int line = 0;
  std::string rule;        // kebab-case id, e.g. "create-index-without-concurrently"
  LintSeverity severity = LintSeverity::kWarning;
  std::string message;     // what is wrong and why it hurts in production
  std::string suggestion;  // the safe alternative
  std::string statement;   // SummarizeStatement() of the offending statement
  std::string table;       // the table it is about (unqualified, as PostgreSQL folds it); "" when none
  // The live table's row estimate (pg_class.reltuples) when the plan was made; -1 when unknown
  // (no database, a table that does not exist yet, or never analyzed). Set by RankFindings.
  long long table_rows = -1;
};

struct LintOptions {
  // True when the file runs inside one transaction (the default for sql and drizzle files);
  // false for files with the no-transaction marker. LintSql does not read the marker itself:
  // the engine knows whether it honours it.
  bool in_transaction = true;
  // Rule ids to skip (from `-- schema-upgrade: lint-ignore rule-a,rule-b` lines or CLI flags).
  std::vector<std::string> disabled_rules;
  // True when the runner sets lock_timeout itself before the file runs (our sql and drizzle
  // engines do, from policy.lockTimeout when it is > 0): missing-lock-timeout is then not reported.
  bool runner_sets_lock_timeout = false;
};

// Lints one file's text. A file that cannot be split returns the split error. Findings are
// ordered by line (the line of the statement, or of the ALTER TABLE action, that triggers them).
// Rules named in options.disabled_rules or in a `-- schema-upgrade: lint-ignore a,b` comment
// anywhere in the file (ids separated by commas or spaces, case-insensitive) are not reported.
// Work on a table created earlier in the same file is not flagged (it is empty and unseen).
// Tokenizes once and holds one statement's tokens at a time (memory follows the largest statement).
Result<std::vector<LintFinding>> LintSql(const std::string& file, std::string_view sql, const LintOptions& options);

const char* LintSeverityName(LintSeverity s);

// Expand/contract pairing (docs/expand-contract.md). In a folder that uses phases (any migration
// marked `-- schema-upgrade: phase=contract`) an expand migration runs while the old version still
// serves, so a destructive statement there (drop-column, drop-table, rename-column, rename-table,
// set-not-null) breaks it: PairExpandFindings makes those findings errors with the fix "move it to a
// contract step". Callers apply it to the findings of expand migrations of phased folders only;
// folders without phase directives keep their findings as they were.
bool IsDestructiveRule(std::string_view rule);
void PairExpandFindings(std::vector<LintFinding>* findings);

// All rule ids with a one-line description, for `schema-upgrade lint --rules` and docs.
std::vector<std::pair<std::string, std::string>> LintRules();

}  // namespace su
