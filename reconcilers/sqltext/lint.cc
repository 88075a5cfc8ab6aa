// LintSql: walks a file's statements as tokens (strings and comments already out of the way),
// recognises the lock-heavy and destructive forms, and remembers what the file itself created
// or validated so that work on a brand-new table, or a prepared SET NOT NULL, is not flagged.
#include "reconcilers/sqltext/lint.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <span>
#include <string_view>

#include "reconcilers/sqltext/lint_rules.h"
#include "reconcilers/sqltext/statement.h"
#include "reconcilers/sqltext/tokenizer.h"

namespace su {
namespace {

using sqltext::IsKeyword;
using sqltext::NormalizeName;
using sqltext::Token;
using sqltext::TokenKind;
using Tokens = std::span<const Token>;

bool IsPunct(const Token& t, char c) { return t.kind == TokenKind::kPunct && t.text.size() == 1 && t.text[0] == c; }
bool IsName(const Token& t) { return t.kind == TokenKind::kWord || t.kind == TokenKind::kQuotedIdent; }

// A read position over a statement's (or an action's) tokens.
class Cursor {
 public:
  explicit Cursor(Tokens t, size_t start = 0) : t_(t), i_(start) {}
  bool Done() const { return i_ >= t_.size(); }
  size_t pos() const { return i_; }
  Tokens Rest() const { return t_.subspan(std::min(i_, t_.size())); }
  bool At(std::string_view kw, size_t ahead = 0) const {
    return i_ + ahead < t_.size() && IsKeyword(t_[i_ + ahead], kw);
  }
  bool Kw(std::string_view kw) {
    if (!At(kw)) return false;
    ++i_;
    return true;
  }
  // Consumes the whole keyword sequence or nothing.
  bool Kws(std::initializer_list<std::string_view> kws) {
    size_t k = 0;
    for (auto kw : kws) {
      if (!At(kw, k)) return false;
      ++k;
    }
    i_ += k;
    return true;
  }
  bool Punct(char c) {
    if (i_ >= t_.size() || !IsPunct(t_[i_], c)) return false;
    ++i_;
    return true;
  }
  // Reads schema.name (or name) and returns the last part as PostgreSQL resolves it; "" if absent.
  std::string Name() {
    if (Done() || !IsName(t_[i_])) return "";
    std::string name = NormalizeName(t_[i_++]);
    while (i_ + 1 < t_.size() && IsPunct(t_[i_], '.') && IsName(t_[i_ + 1])) {
      name = NormalizeName(t_[i_ + 1]);
      i_ += 2;
    }
    return name;
  }

 private:
  Tokens t_;
  size_t i_;
};

// Parenthesis depth before each token, so that clauses inside subqueries are not mistaken for the
// statement's own.
std::vector<int> Depths(Tokens t) {
  std::vector<int> d(t.size());
  int depth = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (IsPunct(t[i], ')') || IsPunct(t[i], ']')) depth = std::max(0, depth - 1);
    d[i] = depth;
    if (IsPunct(t[i], '(') || IsPunct(t[i], '[')) ++depth;
  }
  return d;
}

std::vector<Tokens> SplitTopLevelCommas(Tokens t) {
  std::vector<Tokens> out;
  std::vector<int> depth = Depths(t);
  size_t start = 0;
  for (size_t i = 0; i <= t.size(); ++i) {
    if (i == t.size() || (depth[i] == 0 && IsPunct(t[i], ','))) {
      if (i > start) out.push_back(t.subspan(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool HasKeywordSeq(Tokens t, std::initializer_list<std::string_view> kws) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (Cursor(t, i).Kws(kws)) return true;
  }
  return false;
}

bool HasTopLevelKeyword(Tokens t, std::string_view kw, size_t from = 0) {
  std::vector<int> depth = Depths(t);
  for (size_t i = from; i < t.size(); ++i) {
    if (depth[i] == 0 && IsKeyword(t[i], kw)) return true;
  }
  return false;
}

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

// Functions whose default value differs per row, so PostgreSQL must write it into every row.
// now()/current_timestamp are STABLE: since PostgreSQL 11 such defaults do not rewrite.
bool IsVolatileFunction(const Token& t) {
  static constexpr std::string_view kVolatile[] = {
      "RANDOM", "CLOCK_TIMESTAMP", "TIMEOFDAY", "GEN_RANDOM_UUID", "UUID_GENERATE_V1", "UUID_GENERATE_V1MC",
      "UUID_GENERATE_V4", "UUIDV4", "UUIDV7", "NEXTVAL", "TXID_CURRENT", "PG_CURRENT_XACT_ID"};
  for (auto f : kVolatile) {
    if (IsKeyword(t, f)) return true;
  }
  return false;
}

bool IsSerialType(const Token& t) {
  for (std::string_view s : {"SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL2", "SERIAL4", "SERIAL8"}) {
    if (IsKeyword(t, s)) return true;
  }
  return false;
}

struct FileState {
  std::set<std::string> created_tables;
  // CHECK (col IS NOT NULL) NOT VALID constraints by name, waiting for VALIDATE CONSTRAINT.
  std::map<std::string, std::pair<std::string, std::string>> pending_not_null_checks;
  std::set<std::pair<std::string, std::string>> validated_not_null;
  bool lock_timeout_set = false;
  bool lock_timeout_reported = false;
};

class Linter {
 public:
  Linter(const std::string& file, const LintOptions& options, std::set<std::string> disabled)
      : file_(file), options_(options), disabled_(std::move(disabled)) {}

  void Statement(const sqltext::TokenizedStatement& st) {
    st_ = &st;
    Tokens t = st.tokens;
    Cursor c(t);
    if (c.Kw("CREATE")) {
      Create(c);
    } else if (c.Kw("ALTER")) {
      if (c.Kw("TABLE")) {
        AlterTable(c);
      } else if (c.At("SYSTEM")) {
        NoTransaction("ALTER SYSTEM");
      } else if (c.At("INDEX")) {
        TouchExisting(st.line);
      }
    } else if (c.Kw("DROP")) {
      Drop(c);
    } else if (c.Kw("REINDEX")) {
      Reindex(c);
    } else if (c.Kw("VACUUM")) {
      Vacuum(c);
    } else if (c.Kw("CLUSTER")) {
      Emit("cluster", st.line, "CLUSTER");
      TouchExisting(st.line);
    } else if (c.Kw("LOCK")) {
      c.Kw("TABLE");
      c.Kw("ONLY");
      std::string table = c.Name();
      if (!Created(table)) {
        Emit("lock-table", st.line, "table " + Quoted(table), table);
        TouchExisting(st.line);
      }
    } else if (c.Kw("TRUNCATE")) {
      Truncate(c);
    } else if (c.Kw("SET") || c.Kw("RESET")) {
      SetOrReset(t);
    } else if (IsKeyword(t[0], "DELETE") || IsKeyword(t[0], "UPDATE") || IsKeyword(t[0], "WITH")) {
      DeleteOrUpdate(t);
    }
    // set_config('lock_timeout', ...) in any statement counts as setting it.
    for (const Token& tok : t) {
      if (tok.kind == TokenKind::kString && tok.text == "'lock_timeout'") state_.lock_timeout_set = true;
    }
  }

  std::vector<LintFinding> Take() {
    std::stable_sort(findings_.begin(), findings_.end(),
                     [](const LintFinding& a, const LintFinding& b) { return a.line < b.line; });
    return std::move(findings_);
  }

 private:
  bool Created(const std::string& table) const { return state_.created_tables.count(table) > 0; }

  // table: the table the finding is about, as PostgreSQL resolves its name ("" when none).
  void Emit(std::string_view rule_id, int line, const std::string& subject, const std::string& table = "") {
    if (disabled_.count(std::string(rule_id))) return;
    const sqltext::LintRule* rule = sqltext::FindLintRule(rule_id);
    if (rule == nullptr) return;
    LintFinding f;
    f.file = file_;
    f.line = line;
    f.rule = std::string(rule_id);
    f.severity = rule->severity;
    f.message = subject + ": " + std::string(rule->description);
    f.suggestion = std::string(rule->suggestion);
    f.statement = SummarizeStatement(st_->text);
    f.table = table;
    findings_.push_back(std::move(f));
  }

  // A statement that takes a strong lock on something the file did not create.
  void TouchExisting(int line) {
    if (options_.runner_sets_lock_timeout || state_.lock_timeout_set || state_.lock_timeout_reported) return;
    state_.lock_timeout_reported = true;
    Emit("missing-lock-timeout", line,
         "no SET lock_timeout before this DDL (schema-upgrade sets lock_timeout from its policy when it "
         "runs the file, other runners do not)");
  }

  void NoTransaction(const std::string& what) {
    if (options_.in_transaction) {
      Emit("no-transaction-statement-in-transaction", st_->line, what + " in a file that runs in a transaction");
    }
  }

  void Create(Cursor c) {
    c.Kws({"OR", "REPLACE"});
    bool unique = c.Kw("UNIQUE");
    if (c.Kw("INDEX")) return CreateIndex(c);
    if (unique) return;
    if (c.At("DATABASE") || c.At("TABLESPACE")) return NoTransaction("CREATE " + std::string(Cursor(c).Rest()[0].text));
    if (c.Kw("TRIGGER") || c.Kws({"CONSTRAINT", "TRIGGER"})) {
      Tokens rest = c.Rest();
      for (size_t i = 0; i + 1 < rest.size(); ++i) {
        if (IsKeyword(rest[i], "ON")) {
          Cursor on(rest, i + 1);
          if (!Created(on.Name())) TouchExisting(st_->line);
          break;
        }
      }
      return;
    }
    c.Kw("GLOBAL") || c.Kw("LOCAL");
    c.Kw("TEMP") || c.Kw("TEMPORARY") || c.Kw("UNLOGGED");
    if (c.Kw("TABLE") || c.Kws({"MATERIALIZED", "VIEW"})) {
      c.Kws({"IF", "NOT", "EXISTS"});
      std::string name = c.Name();
      if (!name.empty()) state_.created_tables.insert(name);
    }
  }

  void CreateIndex(Cursor c) {
    bool concurrently = c.Kw("CONCURRENTLY");
    c.Kws({"IF", "NOT", "EXISTS"});
    if (!c.At("ON")) c.Name();
    if (!c.Kw("ON")) return;
    c.Kw("ONLY");
    std::string table = c.Name();
    if (concurrently) {
      if (options_.in_transaction) {
        Emit("concurrently-in-transaction", st_->line,
             "CREATE INDEX CONCURRENTLY on " + Quoted(table) + " in a file that runs in a transaction");
      }
      return;
    }
    if (Created(table)) return;
    Emit("create-index-without-concurrently", st_->line, "index on existing table " + Quoted(table), table);
    TouchExisting(st_->line);
  }

  void Drop(Cursor c) {
    if (c.Kw("TABLE")) {
      c.Kws({"IF", "EXISTS"});
      std::vector<std::string> existing;
      for (Tokens part : SplitTopLevelCommas(c.Rest())) {
        std::string name = Cursor(part).Name();
        if (!name.empty() && !Created(name)) existing.push_back(name);
      }
      for (const auto& name : existing) Emit("drop-table", st_->line, "table " + Quoted(name), name);
      if (!existing.empty()) TouchExisting(st_->line);
    } else if (c.Kw("INDEX")) {
      if (c.Kw("CONCURRENTLY")) {
        if (options_.in_transaction) {
          Emit("concurrently-in-transaction", st_->line, "DROP INDEX CONCURRENTLY in a file that runs in a transaction");
        }
      } else {
        TouchExisting(st_->line);
      }
    } else if (c.At("DATABASE") || c.At("TABLESPACE")) {
      NoTransaction("DROP " + std::string(c.Rest()[0].text));
    }
  }

  void Reindex(Cursor c) {
    Tokens rest = c.Rest();
    if (HasKeywordSeq(rest, {"CONCURRENTLY"})) {
      if (options_.in_transaction) {
        Emit("concurrently-in-transaction", st_->line, "REINDEX CONCURRENTLY in a file that runs in a transaction");
      }
      return;
    }
    if (HasTopLevelKeyword(rest, "DATABASE") || HasTopLevelKeyword(rest, "SYSTEM")) {
      return NoTransaction("REINDEX DATABASE/SYSTEM");
    }
    TouchExisting(st_->line);
  }

  void Vacuum(Cursor c) {
    NoTransaction("VACUUM");
    bool full = false;
    if (c.Kw("FULL")) {
      full = true;
    } else if (c.Punct('(')) {
      Tokens opts = c.Rest();
      for (size_t i = 0; i < opts.size() && !IsPunct(opts[i], ')'); ++i) {
        if (!IsKeyword(opts[i], "FULL")) continue;
        bool off = i + 1 < opts.size() &&
                   (IsKeyword(opts[i + 1], "FALSE") || IsKeyword(opts[i + 1], "OFF") || opts[i + 1].text == "0");
        full = !off;
      }
    }
    if (full) {
      Emit("vacuum-full", st_->line, "VACUUM FULL");
      TouchExisting(st_->line);
    }
  }

  void Truncate(Cursor c) {
    c.Kw("TABLE");
    bool any_existing = false;
    for (Tokens part : SplitTopLevelCommas(c.Rest())) {
      Cursor p(part);
      p.Kw("ONLY");
      std::string name = p.Name();
      if (!name.empty() && !Created(name)) any_existing = true;
    }
    if (!any_existing) return;
    Emit("truncate", st_->line, "TRUNCATE");
    TouchExisting(st_->line);
  }

  void SetOrReset(Tokens t) {
    Cursor c(t, 1);
    bool reset = IsKeyword(t[0], "RESET");
    c.Kw("SESSION") || c.Kw("LOCAL");
    if (!c.Kw("LOCK_TIMEOUT")) {
      if (reset && c.Kw("ALL")) state_.lock_timeout_set = false;
      return;
    }
    if (reset) {
      state_.lock_timeout_set = false;
      return;
    }
    c.Kw("TO") || c.Punct('=');
    Tokens value = c.Rest();
    bool disables = !value.empty() && (value[0].text == "0" || value[0].text == "'0'" || IsKeyword(value[0], "DEFAULT"));
    state_.lock_timeout_set = !disables;
  }

  void DeleteOrUpdate(Tokens t) {
    std::vector<int> depth = Depths(t);
    size_t verb = 0;
    if (IsKeyword(t[0], "WITH")) {
      // The main statement follows the parenthesised CTE bodies.
      verb = t.size();
      for (size_t i = 1; i < t.size(); ++i) {
        if (depth[i] != 0) continue;
        if (IsKeyword(t[i], "DELETE") || IsKeyword(t[i], "UPDATE")) {
          verb = i;
          break;
        }
        if (IsKeyword(t[i], "SELECT") || IsKeyword(t[i], "INSERT") || IsKeyword(t[i], "MERGE")) return;
      }
      if (verb == t.size()) return;
    }
    bool is_delete = IsKeyword(t[verb], "DELETE");
    Cursor c(t, verb + 1);
    if (is_delete) c.Kw("FROM");
    c.Kw("ONLY");
    std::string table = c.Name();
    if (table.empty() || Created(table)) return;
    if (HasTopLevelKeyword(t, "WHERE", c.pos())) return;
    Emit(is_delete ? "delete-without-where" : "update-without-where", t[verb].line,
         std::string(is_delete ? "DELETE FROM " : "UPDATE ") + Quoted(table) + " without WHERE", table);
  }

  void AlterTable(Cursor c) {
    c.Kws({"IF", "EXISTS"});
    c.Kw("ONLY");
    std::string table = c.Name();
    if (table.empty()) return;
    c.Punct('*');
    bool existing = !Created(table);
    if (existing) TouchExisting(st_->line);
    for (Tokens action : SplitTopLevelCommas(c.Rest())) AlterAction(table, existing, action);
  }

  void AlterAction(const std::string& table, bool existing, Tokens a) {
    Cursor c(a);
    int line = a[0].line;
    if (c.Kw("ADD")) {
      if (c.Kw("CONSTRAINT")) {
        std::string name = c.Name();
        return AddConstraint(table, existing, name, c, line);
      }
      if (c.At("CHECK") || c.At("FOREIGN") || c.At("UNIQUE") || c.At("PRIMARY") || c.At("EXCLUDE")) {
        return AddConstraint(table, existing, "", c, line);
      }
      return AddColumn(table, existing, c, line);
    }
    if (c.Kw("ALTER")) {
      if (c.At("CONSTRAINT")) return;
      c.Kw("COLUMN");
      std::string column = c.Name();
      if (!existing) return;
      if (c.Kws({"SET", "NOT", "NULL"})) {
        if (!state_.validated_not_null.count({table, column})) {
          Emit("set-not-null", line, "column " + Quoted(column) + " of " + Quoted(table), table);
        }
      } else if (c.Kws({"SET", "DATA", "TYPE"}) || c.Kw("TYPE")) {
        Emit("alter-column-type", line, "column " + Quoted(column) + " of " + Quoted(table), table);
      }
      return;
    }
    if (c.Kw("DROP")) {
      if (c.At("CONSTRAINT")) return;
      c.Kw("COLUMN");
      c.Kws({"IF", "EXISTS"});
      std::string column = c.Name();
      if (existing && !column.empty()) {
        Emit("drop-column", line, "column " + Quoted(column) + " of " + Quoted(table), table);
      }
      return;
    }
    if (c.Kws({"VALIDATE", "CONSTRAINT"})) {
      auto it = state_.pending_not_null_checks.find(c.Name());
      if (it != state_.pending_not_null_checks.end()) state_.validated_not_null.insert(it->second);
      return;
    }
    if (c.Kw("RENAME")) {
      if (c.At("CONSTRAINT") || !existing) return;
      if (c.Kw("TO")) {
        Emit("rename-table", line, "table " + Quoted(table) + " renamed to " + Quoted(c.Name()), table);
        return;
      }
      c.Kw("COLUMN");
      std::string from = c.Name();
      if (c.Kw("TO")) {
        Emit("rename-column", line, "column " + Quoted(from) + " of " + Quoted(table) + " renamed to " + Quoted(c.Name()), table);
      }
      return;
    }
    if (c.Kws({"DETACH", "PARTITION"}) && HasKeywordSeq(c.Rest(), {"CONCURRENTLY"}) && options_.in_transaction) {
      Emit("concurrently-in-transaction", line, "DETACH PARTITION CONCURRENTLY in a file that runs in a transaction");
    }
  }

  // At CHECK / FOREIGN KEY / UNIQUE / PRIMARY KEY / EXCLUDE of ALTER TABLE ... ADD [CONSTRAINT name].
  void AddConstraint(const std::string& table, bool existing, const std::string& name, Cursor c, int line) {
    Tokens rest = c.Rest();
    bool not_valid = HasKeywordSeq(rest, {"NOT", "VALID"});
    if (c.Kw("CHECK")) {
      // CHECK (col IS NOT NULL): the scan-free path to SET NOT NULL once validated.
      Cursor check = c;
      std::string column;
      if (check.Punct('(')) column = check.Name();
      bool is_not_null = !column.empty() && check.Kws({"IS", "NOT", "NULL"}) && check.Punct(')');
      if (is_not_null) {
        if (!not_valid) {
          state_.validated_not_null.insert({table, column});
        } else {
          // An unnamed constraint gets PostgreSQL's generated name <table>_<column>_check.
          state_.pending_not_null_checks[name.empty() ? table + "_" + column + "_check" : name] = {table, column};
        }
      }
      if (existing && !not_valid) {
        Emit("add-constraint-not-valid", line, "CHECK constraint on " + Quoted(table) + " without NOT VALID", table);
      }
      return;
    }
    if (c.Kws({"FOREIGN", "KEY"})) {
      if (existing && !not_valid) {
        Emit("add-constraint-not-valid", line, "FOREIGN KEY on " + Quoted(table) + " without NOT VALID", table);
      }
      return;
    }
    bool index_backed = c.Kw("UNIQUE") || c.Kws({"PRIMARY", "KEY"}) || c.Kw("EXCLUDE");
    if (index_backed && existing && !HasKeywordSeq(rest, {"USING", "INDEX"})) {
      Emit("add-unique-constraint", line, "constraint on " + Quoted(table) + " builds its index in place", table);
    }
  }

  // At [COLUMN] [IF NOT EXISTS] name type [column constraints] of ALTER TABLE ... ADD.
  void AddColumn(const std::string& table, bool existing, Cursor c, int line) {
    c.Kw("COLUMN");
    c.Kws({"IF", "NOT", "EXISTS"});
    std::string column = c.Name();
    if (!existing || column.empty()) return;
    Tokens def = c.Rest();
    std::string subject = "column " + Quoted(column) + " of " + Quoted(table);
    std::vector<int> depth = Depths(def);
    bool rewrite = !def.empty() && IsSerialType(def[0]);
    bool in_default = false;
    for (size_t i = 0; i < def.size(); ++i) {
      if (depth[i] == 0 && IsKeyword(def[i], "DEFAULT")) in_default = true;
      if (in_default && i + 1 < def.size() && IsVolatileFunction(def[i]) && IsPunct(def[i + 1], '(')) rewrite = true;
      if (depth[i] != 0) continue;
      if (IsKeyword(def[i], "GENERATED") &&
          (HasKeywordSeq(def.subspan(i), {"IDENTITY"}) || HasTopLevelKeyword(def.subspan(i), "STORED"))) {
        rewrite = true;
      }
    }
    if (rewrite) Emit("add-column-volatile-default", line, subject, table);
    if (HasTopLevelKeyword(def, "REFERENCES") || HasTopLevelKeyword(def, "CHECK")) {
      Emit("add-constraint-not-valid", line, subject + " adds a constraint that is validated at once", table);
    }
    if (HasTopLevelKeyword(def, "UNIQUE") || HasKeywordSeq(def, {"PRIMARY", "KEY"})) {
      Emit("add-unique-constraint", line, subject + " builds a unique index in place", table);
    }
  }

  const std::string& file_;
  const LintOptions& options_;
  std::set<std::string> disabled_;
  FileState state_;
  const sqltext::TokenizedStatement* st_ = nullptr;
  std::vector<LintFinding> findings_;
};

// Rule ids named by `-- schema-upgrade: lint-ignore a,b` comments anywhere in the file.
void CollectIgnoredRules(const Token& t, std::set<std::string>& out) {
  auto consume = [](std::string_view& s, std::string_view word) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    if (s.size() < word.size()) return false;
    for (size_t i = 0; i < word.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(s[i])) != word[i]) return false;
    }
    s.remove_prefix(word.size());
    return true;
  };
  {
    if (t.kind != TokenKind::kComment) return;
    std::string_view s = t.text;
    if (!consume(s, "--") || !consume(s, "schema-upgrade:") || !consume(s, "lint-ignore")) return;
    consume(s, ":");
    std::string id;
    for (size_t i = 0; i <= s.size(); ++i) {
      char ch = i < s.size() ? s[i] : ',';
      if (ch == ',' || std::isspace(static_cast<unsigned char>(ch))) {
        if (!id.empty()) out.insert(id);
        id.clear();
      } else {
        id.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
      }
    }
  }
}

}  // namespace

Result<std::vector<LintFinding>> LintSql(const std::string& file, std::string_view sql, const LintOptions& options) {
  // One streaming pass: each statement is linted as the lexer ends it (memory follows the largest
  // statement); lint-ignore comments may come anywhere in the file, so they filter at the end.
  std::set<std::string> disabled(options.disabled_rules.begin(), options.disabled_rules.end());
  std::set<std::string> ignored;
  Linter linter(file, options, std::move(disabled));
  SU_RETURN_IF_ERROR(sqltext::ForEachStatement(
      sql,
      [&](const sqltext::TokenizedStatement& st) {
        linter.Statement(st);
        return Status::Ok();
      },
      [&](const Token& t) { CollectIgnoredRules(t, ignored); }));
  std::vector<LintFinding> out = linter.Take();
  if (!ignored.empty()) {
    std::erase_if(out, [&](const LintFinding& f) { return ignored.count(f.rule) > 0; });
  }
  return out;
}

const char* LintSeverityName(LintSeverity s) {
  switch (s) {
    case LintSeverity::kWarning:
      return "warning";
    case LintSeverity::kError:
      return "error";
  }
  return "unknown";
}

bool IsDestructiveRule(std::string_view rule) {
  return rule == "drop-column" || rule == "drop-table" || rule == "rename-column" || rule == "rename-table" ||
         rule == "set-not-null";
}

void PairExpandFindings(std::vector<LintFinding>* findings) {
  for (auto& f : *findings) {
    if (!IsDestructiveRule(f.rule) || f.severity == LintSeverity::kError) continue;
    f.severity = LintSeverity::kError;
    f.message = "in an expand step (the folder uses phases): " + f.message +
                "; expand steps run before the image bump, while the old version still serves";
    f.suggestion = "move it to a contract step: a migration file whose header says `-- schema-upgrade: "
                   "phase=contract` runs after the new version is verified and the old one is gone";
  }
}

std::vector<std::pair<std::string, std::string>> LintRules() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : sqltext::AllLintRules()) out.emplace_back(std::string(r.id), std::string(r.description));
  return out;
}

}  // namespace su
