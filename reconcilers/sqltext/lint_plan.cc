// Plan-wide lint adjustments (see lint_plan.h).
#include "reconcilers/sqltext/lint_plan.h"

#include <algorithm>

#include "reconcilers/sqltext/tokenizer.h"

namespace su {

using sqltext::IsKeyword;
using sqltext::Token;
using sqltext::TokenKind;

void AddCreatedTables(std::string_view statement, std::set<std::string>& out) {
  (void)sqltext::ForEachStatement(statement, [&](const sqltext::TokenizedStatement& st) {
    const auto& t = st.tokens;
    size_t i = 0;
    auto kw = [&](std::string_view k) {
      if (i < t.size() && IsKeyword(t[i], k)) {
        ++i;
        return true;
      }
      return false;
    };
    if (!kw("CREATE")) return Status::Ok();
    kw("OR") && kw("REPLACE");
    kw("GLOBAL") || kw("LOCAL");
    kw("TEMP") || kw("TEMPORARY") || kw("UNLOGGED");
    if (!(kw("TABLE") || (kw("MATERIALIZED") && kw("VIEW")))) return Status::Ok();
    kw("IF") && kw("NOT") && kw("EXISTS");
    std::string name;
    while (i < t.size() && (t[i].kind == TokenKind::kWord || t[i].kind == TokenKind::kQuotedIdent)) {
      name = sqltext::NormalizeName(t[i++]);
      if (i + 1 < t.size() && t[i].kind == TokenKind::kPunct && t[i].text == ".") {
        ++i;
      } else {
        break;
      }
    }
    if (!name.empty()) out.insert(name);
    return Status::Ok();
  });
}

void DropFindingsOnCreatedTables(std::vector<LintFinding>& findings, const std::set<std::string>& created) {
  std::erase_if(findings, [&](const LintFinding& f) { return !f.table.empty() && created.count(f.table) > 0; });
}

void RankFindings(std::vector<LintFinding>& findings, const std::map<std::string, long long>& live_rows) {
  for (auto& f : findings) {
    auto it = live_rows.find(f.table);
    f.table_rows = it == live_rows.end() ? -1 : it->second;
  }
  std::stable_sort(findings.begin(), findings.end(), [](const LintFinding& a, const LintFinding& b) {
    if (a.severity != b.severity) return a.severity == LintSeverity::kError;
    return a.table_rows > b.table_rows;
  });
}

}  // namespace su
