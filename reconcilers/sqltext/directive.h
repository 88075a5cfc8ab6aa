// Directives: per-migration instructions to schema-upgrade written as SQL comments, so the file stays
// a plain migration for every other tool (psql, sql-migrate, drizzle-kit ignore them):
//
//   -- schema-upgrade: phase=contract
//   -- schema-upgrade: backfill table=users key=id batch=1000
//
// Contract:
//  - A directive line is a line whose text, after leading blanks, starts with "-- schema-upgrade:".
//    The rest of the line is words separated by blanks: "key=value" or a bare "word" (value empty).
//    A value may be double-quoted to hold blanks ("a b"); no other escapes.
//  - Directives belong to the file's leading comment block (blank lines and "--" comments before the
//    first statement). A directive line after SQL text has started is an error naming its line: it
//    would otherwise be silently ignored.
//  - A line starting with "-- schema-upgrade" but not followed by ':' is an error (a typo must not
//    turn a contract step into an expand step).
//  - The same key twice is an error. Which keys exist is the caller's business (CheckDirectiveKeys).
//  - Errors are kInvalidArgument with "line N: ..." (callers add the file name as context).
//  - One pass over the text, no copy of it: usable on a 40 MB file.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

inline constexpr std::string_view kDirectivePrefix = "-- schema-upgrade:";

struct Directive {
  int line = 0;       // 1-based line of the file
  std::string key;
  std::string value;  // empty for a bare word
};

struct Directives {
  std::vector<Directive> items;  // in file order
  bool empty() const { return items.empty(); }
  // The directive with this key, or nullptr.
  const Directive* Find(std::string_view key) const;
};

Result<Directives> ParseDirectives(std::string_view text);

// kInvalidArgument naming the line and the unknown key (with the known ones listed) when a
// directive's key is not in `known`.
Status CheckDirectiveKeys(const Directives& d, std::initializer_list<std::string_view> known);

}  // namespace su
