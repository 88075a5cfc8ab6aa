// Statement splitting and per-file checks for the sql engine (see sql_prepare.h).
#include "reconcilers/engines/sql/sql_prepare.h"

#include <cctype>

#include "reconcilers/base/sha256.h"
#include "reconcilers/engines/sql/sql_folder.h"
#include "reconcilers/sqltext/directive.h"

namespace su {
namespace {

// A word-level scan, just deep enough to read the head of a DDL statement: skips comments, keeps
// "quoted identifiers" whole, and returns every other non-space run split at '(' and ';'.
std::vector<std::string> HeadWords(std::string_view s, size_t max_words) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size() && out.size() < max_words) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      auto end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else if (c == '(' || c == ';') {
      out.emplace_back(1, c);
      ++i;
    } else {
      // A word, possibly with quoted parts such as "my schema"."Idx".
      size_t start = i;
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) && s[i] != '(' && s[i] != ';') {
        if (s[i] == '"') {
          ++i;
          while (i < s.size()) {
            if (s[i] == '"' && i + 1 < s.size() && s[i + 1] == '"') {
              i += 2;
            } else if (s[i] == '"') {
              break;
            } else {
              ++i;
            }
          }
        }
        if (i < s.size()) ++i;
      }
      out.emplace_back(s.substr(start, i - start));
    }
  }
  return out;
}

bool Is(const std::string& word, const char* upper) {
  size_t n = 0;
  for (; upper[n]; ++n) {
    if (n >= word.size() || std::toupper(static_cast<unsigned char>(word[n])) != upper[n]) return false;
  }
  return n == word.size();
}

// True for statements that end or start a transaction (ROLLBACK TO SAVEPOINT is fine).
bool IsTransactionControl(std::string_view statement) {
  auto w = HeadWords(statement, 2);
  if (w.empty()) return false;
  if (Is(w[0], "BEGIN") || Is(w[0], "COMMIT") || Is(w[0], "END") || Is(w[0], "ABORT")) return true;
  if (Is(w[0], "START") && w.size() > 1 && Is(w[1], "TRANSACTION")) return true;
  if (Is(w[0], "ROLLBACK")) return !(w.size() > 1 && Is(w[1], "TO"));
  return false;
}

}  // namespace

std::string ConcurrentIndexName(std::string_view statement) {
  auto w = HeadWords(statement, 9);
  size_t i = 0;
  auto next_is = [&](const char* kw) {
    if (i < w.size() && Is(w[i], kw)) {
      ++i;
      return true;
    }
    return false;
  };
  if (!next_is("CREATE")) return "";
  next_is("UNIQUE");
  if (!next_is("INDEX") || !next_is("CONCURRENTLY")) return "";
  if (next_is("IF")) {
    if (!next_is("NOT") || !next_is("EXISTS")) return "";
  }
  if (i >= w.size() || Is(w[i], "ON") || w[i] == "(") return "";
  std::string name = w[i];
  ++i;
  if (i >= w.size() || !Is(w[i], "ON")) return "";
  return name;
}

namespace {

// The keys a migration file may use (CheckMigrationDirectiveKeys, sql_folder.h: the one list);
// backfill's knobs are refused without `backfill`.
Status CheckSqlDirectives(const Directives& d) {
  Status s = CheckMigrationDirectiveKeys(d);
  if (!s.ok() || d.Find("backfill")) return s;
  for (const Directive& item : d.items) {
    for (std::string_view k : {"table", "key", "batch", "min-batch", "max-batch", "batch-time", "pause", "max-lag",
                               "adaptive"}) {
      if (item.key == k) {
        return Status::Invalid("line " + std::to_string(item.line) + ": directive '" + item.key +
                               "' belongs to a backfill: add the word 'backfill' (-- schema-upgrade: backfill table=... "
                               "key=...)");
      }
    }
  }
  return s;
}

Result<PreparedMigration> Prepare(const std::string& version, const std::string& name, const std::string& file,
                                  std::shared_ptr<const std::string> source, std::string checksum, bool autocommit) {
  PreparedMigration m;
  m.version = version;
  m.name = name;
  m.file = file;
  m.checksum = std::move(checksum);
  m.no_transaction = autocommit || HasNoTransactionMarker(*source);
  auto directives = ParseDirectives(*source);
  if (directives.ok()) {
    Status known = CheckSqlDirectives(*directives);
    if (!known.ok()) directives = known;
  }
  if (!directives.ok()) return Status::Invalid(file + ": " + directives.status().message());
  auto split = SplitStatementRefs(*source);
  if (!split.ok()) return Status::Invalid(file + ": " + split.status().message());
  m.statements = std::move(split).value();
  m.source = std::move(source);
  if (directives->Find("backfill")) {
    auto spec = ParseBackfill(file, *directives, m.statements);
    if (!spec.ok()) return spec.status();
    m.backfill = std::move(spec).value();
  }
  for (const auto& st : m.statements) {
    if (!m.no_transaction && IsTransactionControl(st.text)) {
      return Status::Invalid(file + ":" + std::to_string(st.line) + ": '" + SummarizeStatement(st.text, 40) +
                             "' controls the transaction, but each migration file already runs in its own "
                             "transaction; remove it (or start the file with '-- schema-upgrade: no-transaction' "
                             "to manage transactions yourself)");
    }
    std::string idx = ConcurrentIndexName(st.text);
    if (!idx.empty()) m.concurrent_indexes.push_back(idx);
  }
  return m;
}

}  // namespace

Result<PreparedMigration> PrepareMigration(const std::string& version, const std::string& name,
                                           const std::string& file, const std::string& sql, bool autocommit) {
  return Prepare(version, name, file, std::make_shared<const std::string>(sql), Sha256Hex(sql), autocommit);
}

Result<PreparedMigration> PrepareMigration(const std::string& version, const std::string& name,
                                           const std::string& file, std::shared_ptr<const MigrationText> text,
                                           bool autocommit) {
  std::string checksum = text->checksum;
  // Aliasing: the source shares ownership of the cached text without copying it.
  std::shared_ptr<const std::string> source(text, &text->content);
  return Prepare(version, name, file, std::move(source), std::move(checksum), autocommit);
}

}  // namespace su
