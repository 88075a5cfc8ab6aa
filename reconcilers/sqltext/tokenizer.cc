// The lexer and statement splitter behind statement.h and lint.h. It follows PostgreSQL's scan.l
// for the constructs that can contain ';' and treats everything else as words and punctuation.
#include "reconcilers/sqltext/tokenizer.h"

#include <cctype>

namespace su::sqltext {
namespace {

bool IsWordStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool IsWordChar(unsigned char c) { return IsWordStart(c) || std::isdigit(c) || c == '$'; }
// Dollar-quote tags are identifiers without '$'.
bool IsTagChar(unsigned char c) { return IsWordStart(c) || std::isdigit(c); }

class Lexer {
 public:
  explicit Lexer(std::string_view sql) : s_(sql) {}

  Result<std::vector<Token>> Run(bool keep_comments) {
    std::vector<Token> out;
    Token t;
    while (true) {
      SU_ASSIGN_OR_RETURN(bool more, Next(keep_comments, &t));
      if (!more) return out;
      out.push_back(t);
    }
  }

  // The next token (comments only when keep_comments) into *out; false at the end of the input.
  Result<bool> Next(bool keep_comments, Token* out) {
    while (pos_ < s_.size()) {
      unsigned char c = s_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
        continue;
      }
      if (std::isspace(c)) {
        ++pos_;
        continue;
      }
      size_t begin = pos_;
      int line = line_;
      TokenKind kind;
      if (c == '-' && Peek(1) == '-') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
        kind = TokenKind::kComment;
      } else if (c == '/' && Peek(1) == '*') {
        if (!SkipBlockComment()) return Unterminated("block comment", line);
        kind = TokenKind::kComment;
      } else if (c == '\'') {
        if (!SkipQuoted('\'', false)) return Unterminated("quoted string", line);
        kind = TokenKind::kString;
      } else if (c == '"') {
        if (!SkipQuoted('"', false)) return Unterminated("quoted identifier", line);
        kind = TokenKind::kQuotedIdent;
      } else if (c == '$' && std::isdigit(static_cast<unsigned char>(Peek(1)))) {
        ++pos_;
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
        kind = TokenKind::kParam;
      } else if (c == '$' && DollarTagLength() > 0) {
        size_t tag_len = DollarTagLength();
        std::string_view tag = s_.substr(pos_, tag_len);
        size_t close = s_.find(tag, pos_ + tag_len);
        if (close == std::string_view::npos) return Unterminated("dollar-quoted string", line);
        AdvanceTo(close + tag_len);
        kind = TokenKind::kString;
      } else if (IsWordStart(c)) {
        while (pos_ < s_.size() && IsWordChar(s_[pos_])) ++pos_;
        std::string_view word = s_.substr(begin, pos_ - begin);
        kind = TokenKind::kWord;
        // Prefixed literals: E'..' takes backslash escapes; B'', X'', N'' and U&'' do not.
        if (Peek(0) == '\'' && word.size() == 1) {
          bool backslash = word == "E" || word == "e";
          if (!SkipQuoted('\'', backslash)) return Unterminated("quoted string", line);
          kind = TokenKind::kString;
        } else if ((word == "U" || word == "u") && Peek(0) == '&' && (Peek(1) == '\'' || Peek(1) == '"')) {
          char q = Peek(1);
          ++pos_;
          if (!SkipQuoted(q, false)) return Unterminated(q == '"' ? "quoted identifier" : "quoted string", line);
          kind = q == '"' ? TokenKind::kQuotedIdent : TokenKind::kString;
        }
      } else if (std::isdigit(c) || (c == '.' && std::isdigit(static_cast<unsigned char>(Peek(1))))) {
        while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
                                    s_[pos_] == '_')) {
          ++pos_;
        }
        kind = TokenKind::kNumber;
      } else {
        ++pos_;
        kind = TokenKind::kPunct;
      }
      if (kind == TokenKind::kComment && !keep_comments) continue;
      *out = Token{kind, begin, pos_, line, s_.substr(begin, pos_ - begin)};
      return true;
    }
    return false;
  }

 private:
  char Peek(size_t ahead) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

  void AdvanceTo(size_t end) {
    for (; pos_ < end; ++pos_) {
      if (s_[pos_] == '\n') ++line_;
    }
  }

  // At '$': the length of "$tag$" (or "$$") when one starts here, else 0.
  size_t DollarTagLength() const {
    size_t i = pos_ + 1;
    if (i < s_.size() && s_[i] != '$') {
      if (!IsWordStart(s_[i])) return 0;
      while (i < s_.size() && IsTagChar(s_[i])) ++i;
    }
    if (i < s_.size() && s_[i] == '$') return i + 1 - pos_;
    return 0;
  }

  // At the opening quote; a doubled quote is an escaped quote. Returns false at end of input.
  bool SkipQuoted(char quote, bool backslash_escapes) {
    ++pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '\n') ++line_;
      if (backslash_escapes && c == '\\') {
        if (pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n') ++line_;
        pos_ += 2;
        continue;
      }
      ++pos_;
      if (c == quote) {
        if (Peek(0) == quote) {
          ++pos_;
          continue;
        }
        return true;
      }
    }
    return false;
  }

  // PostgreSQL block comments nest.
  bool SkipBlockComment() {
    int depth = 0;
    while (pos_ < s_.size()) {
      if (s_[pos_] == '/' && Peek(1) == '*') {
        ++depth;
        pos_ += 2;
      } else if (s_[pos_] == '*' && Peek(1) == '/') {
        pos_ += 2;
        if (--depth == 0) return true;
      } else {
        if (s_[pos_] == '\n') ++line_;
        ++pos_;
      }
    }
    return false;
  }

  Status Unterminated(const char* what, int line) const {
    return Status::Invalid("unterminated " + std::string(what) + " starting at line " + std::to_string(line));
  }

  std::string_view s_;
  size_t pos_ = 0;
  int line_ = 1;
};

// Whether the statement so far is CREATE [OR REPLACE] FUNCTION|PROCEDURE, whose SQL-standard body
// (BEGIN ATOMIC ... END) contains ';'-terminated statements of its own.
bool IsRoutineDefinition(const std::vector<Token>& tokens) {
  if (tokens.empty() || !IsKeyword(tokens[0], "CREATE")) return false;
  for (size_t i = 1; i < tokens.size() && i < 5; ++i) {
    if (IsKeyword(tokens[i], "FUNCTION") || IsKeyword(tokens[i], "PROCEDURE")) return true;
  }
  return false;
}

}  // namespace

bool IsKeyword(const Token& t, std::string_view upper_keyword) {
  if (t.kind != TokenKind::kWord || t.text.size() != upper_keyword.size()) return false;
  for (size_t i = 0; i < t.text.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(t.text[i])) != upper_keyword[i]) return false;
  }
  return true;
}

std::string NormalizeName(const Token& t) {
  std::string out;
  if (t.kind == TokenKind::kQuotedIdent && t.text.size() >= 2 && t.text.front() == '"') {
    std::string_view inner = t.text.substr(1, t.text.size() - 2);
    for (size_t i = 0; i < inner.size(); ++i) {
      out.push_back(inner[i]);
      if (inner[i] == '"' && i + 1 < inner.size() && inner[i + 1] == '"') ++i;
    }
    return out;
  }
  for (char c : t.text) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

Result<std::vector<Token>> Tokenize(std::string_view sql, bool keep_comments) {
  return Lexer(sql).Run(keep_comments);
}

Status ForEachStatement(std::string_view sql, const std::function<Status(const TokenizedStatement&)>& on_statement,
                        const std::function<void(const Token&)>& on_comment) {
  Lexer lexer(sql);
  // One statement's tokens at a time (the buffer is reused): memory follows the largest statement,
  // not the file.
  TokenizedStatement current;
  int atomic_depth = 0;  // >0 inside BEGIN ATOMIC ... END, counting CASE ... END inside it
  int atomic_line = 0;
  bool atomic_next = false;  // the previous token was BEGIN of a routine definition
  auto flush = [&]() -> Status {
    if (current.tokens.empty()) return Status::Ok();
    current.line = current.tokens.front().line;
    current.text = sql.substr(current.tokens.front().begin, current.tokens.back().end - current.tokens.front().begin);
    Status s = on_statement(current);
    current.tokens.clear();
    return s;
  };
  Token t;
  while (true) {
    SU_ASSIGN_OR_RETURN(bool more, lexer.Next(static_cast<bool>(on_comment), &t));
    if (!more) break;
    if (t.kind == TokenKind::kComment) {
      on_comment(t);
      continue;
    }
    if (atomic_next) {
      atomic_next = false;
      if (IsKeyword(t, "ATOMIC")) {
        atomic_depth = 1;
        atomic_line = current.tokens.back().line;
      }
    }
    if (atomic_depth == 0 && t.kind == TokenKind::kPunct && t.text == ";") {
      SU_RETURN_IF_ERROR(flush());
      continue;
    }
    if (atomic_depth == 0 && IsKeyword(t, "BEGIN") && IsRoutineDefinition(current.tokens)) {
      atomic_next = true;  // BEGIN ATOMIC opens the body only when ATOMIC follows
    } else if (atomic_depth > 0 && IsKeyword(t, "CASE")) {
      ++atomic_depth;
    } else if (atomic_depth > 0 && IsKeyword(t, "END")) {
      --atomic_depth;
    }
    current.tokens.push_back(t);
  }
  if (atomic_depth > 0) {
    return Status::Invalid("unterminated BEGIN ATOMIC body starting at line " + std::to_string(atomic_line));
  }
  return flush();
}

Result<std::vector<TokenizedStatement>> SplitTokenized(std::string_view sql) {
  std::vector<TokenizedStatement> out;
  SU_RETURN_IF_ERROR(ForEachStatement(sql, [&](const TokenizedStatement& st) {
    out.push_back(st);
    return Status::Ok();
  }));
  return out;
}

}  // namespace su::sqltext
