// Drizzle Kit's meta/_journal.json as plain structs. The JSON library (cpprestsdk) stays inside
// journal.cc so that nothing else in the project pays its compile time.
//
// drizzle-orm's readMigrationFiles reads only `entries[].tag` (file <tag>.sql) and
// `entries[].when` (the created_at it records). We check the other fields' types too, so a
// hand-edited journal fails here with a message naming the file and the entry, not later.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

struct DrizzleJournalEntry {
  int idx = 0;              // as written; -1 when absent (drizzle-orm does not use it)
  std::string version;      // snapshot format version, e.g. "7"; may be empty
  long long when = 0;       // milliseconds; becomes __drizzle_migrations.created_at
  std::string tag;          // file name without ".sql", e.g. "0003_add_sessions"
  bool breakpoints = true;  // informational: drizzle-orm splits on markers either way
};

struct DrizzleJournal {
  std::string version;  // journal format version, may be empty
  std::string dialect;  // e.g. "postgresql"; may be empty
  std::vector<DrizzleJournalEntry> entries;  // in journal order (drizzle-orm's apply order)
};

// Parses the journal's text. path is used only in error messages. Errors (kInvalidArgument)
// name the path and, for a bad entry, its position and tag: malformed JSON (with the parser's
// line and column), a missing or mistyped field, an empty or unsafe tag (absolute or containing
// ".."), a duplicate tag, or a dialect other than postgresql.
Result<DrizzleJournal> ParseDrizzleJournal(const std::string& path, const std::string& text);

}  // namespace su
