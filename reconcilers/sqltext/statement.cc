// statement.h: splitting migration files, Drizzle breakpoints, the no-transaction marker and
// one-line statement summaries.
#include "reconcilers/sqltext/statement.h"

#include <cctype>
#include <string_view>

#include "reconcilers/sqltext/tokenizer.h"

namespace su {
namespace {

constexpr std::string_view kBreakpoint = "--> statement-breakpoint";

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Consumes `word` case-insensitively from the front of `s`.
bool ConsumeWord(std::string_view& s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != word[i]) return false;
  }
  s.remove_prefix(word.size());
  return true;
}

// Calls fn(line) for each line ('\n'-separated, a '\r' before it dropped) until fn returns false.
// Lazy: a file's first lines are read without scanning the rest.
template <typename Fn>
void ForEachLine(std::string_view s, Fn fn) {
  size_t start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    std::string_view line = s.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!fn(line)) return;
    if (nl == std::string_view::npos) return;
    start = nl + 1;
  }
}

}  // namespace

Result<std::vector<SqlStatement>> SplitStatements(const std::string& sql) {
  std::vector<SqlStatement> out;
  SU_RETURN_IF_ERROR(sqltext::ForEachStatement(sql, [&](const sqltext::TokenizedStatement& st) {
    out.push_back(SqlStatement{std::string(st.text), st.line});
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<SqlStatementRef>> SplitStatementRefs(std::string_view sql) {
  std::vector<SqlStatementRef> out;
  SU_RETURN_IF_ERROR(sqltext::ForEachStatement(sql, [&](const sqltext::TokenizedStatement& st) {
    out.push_back(SqlStatementRef{st.text, st.line});
    return Status::Ok();
  }));
  return out;
}

std::vector<std::string> SplitOnBreakpoints(const std::string& sql) {
  // JavaScript's String.prototype.split: n markers give n+1 parts, including empty ones.
  std::vector<std::string> out;
  std::string_view s = sql;
  size_t start = 0;
  while (true) {
    size_t at = s.find(kBreakpoint, start);
    if (at == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, at - start));
    start = at + kBreakpoint.size();
  }
}

bool IsBlankStatement(const std::string& sql) {
  auto tokens = sqltext::Tokenize(sql, /*keep_comments=*/false);
  // An unterminated construct is not blank: let the server report it.
  return tokens.ok() && tokens->empty();
}

bool HasNoTransactionMarker(std::string_view s) {
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);  // UTF-8 byte order mark
  bool marker = false;
  ForEachLine(s, [&](std::string_view line) {
    line = TrimSpace(line);
    if (line.empty()) return true;
    if (!ConsumeWord(line, "--")) return false;
    line = TrimSpace(line);
    if (!ConsumeWord(line, "schema-upgrade:")) return false;
    line = TrimSpace(line);
    marker = ConsumeWord(line, "no-transaction") && TrimSpace(line).empty();
    return false;
  });
  return marker;
}

std::string SummarizeStatement(std::string_view statement, size_t max_len) {
  std::string_view chosen;
  ForEachLine(statement, [&](std::string_view line) {
    line = TrimSpace(line);
    if (line.empty()) return true;
    if (chosen.empty()) chosen = line;  // fallback when every line is a comment
    if (line.substr(0, 2) != "--") {
      chosen = line;
      return false;
    }
    return true;
  });
  std::string collapsed;
  bool in_space = false;
  for (char c : chosen) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      in_space = true;
      continue;
    }
    if (in_space && !collapsed.empty()) collapsed.push_back(' ');
    in_space = false;
    collapsed.push_back(c);
  }
  // Drizzle parts keep their ';' (statement-breakpoint splitting); summaries look the same for all.
  while (!collapsed.empty() && (collapsed.back() == ';' || collapsed.back() == ' ')) collapsed.pop_back();
  if (collapsed.size() <= max_len) return collapsed;
  size_t keep = max_len >= 3 ? max_len - 3 : 0;
  // Never cut inside a UTF-8 sequence: back up over continuation bytes.
  while (keep > 0 && (static_cast<unsigned char>(collapsed[keep]) & 0xC0) == 0x80) --keep;
  return collapsed.substr(0, keep) + "...";
}

}  // namespace su
