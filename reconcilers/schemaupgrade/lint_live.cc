// AddLiveTableRows (see lint_live.h).
#include "reconcilers/schemaupgrade/lint_live.h"

#include <set>

namespace su {

Status AddLiveTableRows(Database* db, EngineState& state) {
  std::set<std::string> names;
  for (const auto& m : state.pending) {
    for (const auto& f : m.findings) {
      if (!f.table.empty()) names.insert(f.table);
    }
  }
  if (names.empty()) return Status::Ok();
  // A text[] literal: every element double-quoted with " and \ escaped.
  std::string arr = "{";
  for (const auto& n : names) {
    std::string q;
    for (char c : n) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    arr += (arr.size() > 1 ? ",\"" : "\"") + q + "\"";
  }
  arr += "}";
  auto r = db->Query(
      "SELECT c.relname, max(greatest(c.reltuples, 0))::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r', 'p', 'm') AND c.relname = ANY($1::text[]) "
      "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' GROUP BY c.relname",
      {arr});
  if (!r.ok()) return r.status().WithContext("reading the row estimates of the tables lint names");
  for (size_t i = 0; i < r->rows.size(); ++i) state.table_rows[r->Get(i, 0)] = std::stoll(r->Get(i, 1, "0"));
  return Status::Ok();
}

}  // namespace su
