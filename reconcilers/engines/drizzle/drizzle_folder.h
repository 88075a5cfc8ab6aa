// A Drizzle Kit migrations folder loaded into memory exactly as drizzle-orm's
// readMigrationFiles sees it: for each journal entry (in journal order) the file <tag>.sql,
// decoded as Node does, its sha256 hex, and its parts split on "--> statement-breakpoint".
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reconcilers/base/file_cache.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"
#include "reconcilers/engines/drizzle/journal.h"
#include "reconcilers/engines/engine.h"
#include "reconcilers/engines/sql/sql_prepare.h"

namespace su {

struct DrizzleStatement {
  std::string text;  // the part exactly as drizzle-orm sends it (not trimmed)
  int index = 0;     // 1-based among the parts we run (blank parts are skipped: see below)
  int line = 0;      // 1-based line in the file of the statement's first non-comment line
};

struct DrizzleMigration {
  DrizzleJournalEntry entry;
  int position = 0;       // 0-based position in the journal
  std::string file;       // folder/<tag>.sql
  std::string content;    // file text after Node's UTF-8 round trip
  std::string hash;       // sha256 hex of content: what drizzle-orm records
  // Non-blank parts only: drizzle-orm also sends whitespace/comment-only parts, which PostgreSQL
  // answers as empty queries, so skipping them changes nothing in the database.
  std::vector<DrizzleStatement> statements;
  // `-- schema-upgrade: phase=contract` in the file's leading comments (ReadMigrationDirectives).
  MigrationPhase phase = MigrationPhase::kExpand;
  // Set for a file whose directives declare a backfill (`-- schema-upgrade: backfill table=...
  // key=...`, docs/backfill.md): the file prepared and checked by the sql engine's
  // PrepareMigration (one statement with $1/$2), run by RunBackfill in batches, not in the
  // drizzle transaction. Also set (and so checked) for any file with a directive other than phase.
  std::shared_ptr<const PreparedMigration> backfill;
  std::string Name() const;  // tag without a leading "<digits>_" (e.g. "add_sessions")
};

struct DrizzleFolder {
  std::string folder;
  std::string journal_path;
  DrizzleJournal journal;
  std::vector<DrizzleMigration> migrations;  // one per journal entry, same order
};

// Splits content into its statements with 1-based lines (pure; exposed for tests).
std::vector<DrizzleStatement> SplitDrizzleStatements(const std::string& content);

// What an engine keeps between loads of one run: each file's text (so the cache need not read it
// again) and its split (so it is not tokenized again), by path.
struct DrizzleLoadMemo {
  struct File {
    std::shared_ptr<const MigrationText> text;
    std::vector<DrizzleStatement> statements;
    std::optional<MigrationPhase> phase;
    std::shared_ptr<const PreparedMigration> backfill;
  };
  std::map<std::string, File> files;
};

// Reads folder/meta/_journal.json and every <tag>.sql it lists. Errors (kInvalidArgument)
// name the journal or the missing file and the entry that lists it, or the file and byte offset
// of a NUL byte or invalid UTF-8, or a bad directive (file, line, field: the checks of the sql
// engine's PrepareMigration and ParseBackfill) (drizzle-orm would cut the file at a NUL and replace bad bytes
// with U+FFFD inside the statements; we refuse both before anything runs).
// With a cache, files are read and hashed through it; with a memo, a file whose text is the one
// memoized is not split again (the memo is replaced by this load's files).
Result<DrizzleFolder> LoadDrizzleFolder(FileSystem* fs, const std::string& folder, MigrationFileCache* cache = nullptr,
                                        DrizzleLoadMemo* memo = nullptr);

}  // namespace su
