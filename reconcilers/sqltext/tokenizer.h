// A PostgreSQL lexer just deep enough to find statement boundaries and keywords: it knows every
// construct that can hide a ';' (strings, E'' strings, "identifiers", dollar quotes, comments).
// Internal to su_sqltext (the splitter and the linter share it); other modules use statement.h.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "reconcilers/base/result.h"

namespace su::sqltext {

enum class TokenKind {
  kWord,         // unquoted identifier or keyword (may contain '$' after the first character)
  kQuotedIdent,  // "identifier" (text includes the quotes)
  kString,       // '...', E'...', B'...', X'...', U&'...', $$...$$, $tag$...$tag$
  kNumber,
  kParam,        // $1
  kPunct,        // any other single character: ( ) , ; . = :: is two tokens, etc.
  kComment,      // -- line or /* block */ (only when asked for)
};

struct Token {
  TokenKind kind = TokenKind::kPunct;
  size_t begin = 0;  // byte offsets into the input, [begin, end)
  size_t end = 0;
  int line = 1;      // 1-based line of `begin`
  std::string_view text;
};

// Tokenizes the whole input. The views point into `sql`, which must outlive the result.
// Errors (kInvalidArgument) name the construct and the line where an unterminated one started.
Result<std::vector<Token>> Tokenize(std::string_view sql, bool keep_comments);

// One statement as tokens (comments excluded) plus its text, as SplitStatements reports it.
struct TokenizedStatement {
  std::string_view text;  // into the input
  int line = 0;
  std::vector<Token> tokens;  // without the terminating ';'
};

// The splitter behind SplitStatements (see statement.h for the contract), streaming: lexes `sql`
// once and calls on_statement with each statement as it ends (the tokens are only valid during
// the call; their views point into `sql`), so memory follows the largest statement, not the file.
// A non-ok status from on_statement stops the walk and is returned. on_comment (may be empty: then
// comments are skipped) gets every comment token in order. Split errors as SplitStatements.
Status ForEachStatement(std::string_view sql, const std::function<Status(const TokenizedStatement&)>& on_statement,
                        const std::function<void(const Token&)>& on_comment = {});

// Every statement at once (tests and small inputs; prefer ForEachStatement for files).
Result<std::vector<TokenizedStatement>> SplitTokenized(std::string_view sql);

// ASCII case-insensitive comparison of a word token with an upper-case keyword.
bool IsKeyword(const Token& t, std::string_view upper_keyword);

// A name as PostgreSQL resolves it: unquoted words fold to lower case, a quoted identifier is its
// inner text with "" unescaped. Used to compare table and column names.
std::string NormalizeName(const Token& t);

}  // namespace su::sqltext
