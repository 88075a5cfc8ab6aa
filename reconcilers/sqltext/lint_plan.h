// Lint across a whole plan: what one file's linter cannot know. A table created by an earlier
// migration of the same plan is new and empty when the later one runs (findings about it are
// noise: a fresh database with a long history otherwise gets hundreds), and a finding on a table
// with millions of live rows matters more than one on an empty table.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "reconcilers/sqltext/lint.h"

namespace su {

// Adds the tables (and materialized views) `statement` creates, by unqualified name as
// PostgreSQL folds it, to out. A statement that cannot be tokenized adds nothing.
void AddCreatedTables(std::string_view statement, std::set<std::string>& out);

// Drops the findings whose table is in `created` (made by earlier migrations of the plan).
void DropFindingsOnCreatedTables(std::vector<LintFinding>& findings, const std::set<std::string>& created);

// Sets table_rows from `live_rows` (table -> reltuples) and orders the findings: errors first,
// then by the live table's rows, largest first (unknown last); file order otherwise.
void RankFindings(std::vector<LintFinding>& findings, const std::map<std::string, long long>& live_rows);

}  // namespace su
