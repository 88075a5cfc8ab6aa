// LoadDrizzleFolder and the statement split (see drizzle_folder.h).
#include "reconcilers/engines/drizzle/drizzle_folder.h"

#include <cctype>
#include <string_view>

#include "reconcilers/base/sha256.h"
#include "reconcilers/base/text_check.h"
#include "reconcilers/engines/drizzle/node_utf8.h"
#include "reconcilers/engines/sql/sql_folder.h"
#include "reconcilers/sqltext/statement.h"

namespace su {
namespace {

constexpr std::string_view kBreakpoint = "--> statement-breakpoint";

// Line (1-based, counted from offset's line `base_line`) of the first line of part that is
// neither blank nor a "--" comment; the first non-blank line when all are comments.
int FirstCodeLine(std::string_view part, int base_line) {
  int line = base_line;
  int fallback = 0;
  size_t pos = 0;
  while (pos <= part.size()) {
    size_t end = part.find('\n', pos);
    if (end == std::string_view::npos) end = part.size();
    std::string_view l = part.substr(pos, end - pos);
    size_t k = 0;
    while (k < l.size() && std::isspace(static_cast<unsigned char>(l[k]))) ++k;
    if (k < l.size()) {
      if (l.substr(k, 2) != "--") return line;
      if (fallback == 0) fallback = line;
    }
    if (end == part.size()) break;
    pos = end + 1;
    ++line;
  }
  return fallback ? fallback : base_line;
}

// A file with directives beyond phase= goes through the sql engine's checks (unknown keys, backfill
// knobs without `backfill`, the backfill's fields and its one statement); a backfill file keeps the
// result to run it. text: the file's text as drizzle-orm sees it (its checksum is the drizzle hash).
Result<std::shared_ptr<const PreparedMigration>> PrepareIfDirected(const DrizzleMigration& m, const Directives& d,
                                                                   std::shared_ptr<const MigrationText> text) {
  if (!DirectivesBeyondPhase(d)) return std::shared_ptr<const PreparedMigration>();
  auto prepared = text ? PrepareMigration(m.entry.tag, m.Name(), m.file, std::move(text))
                       : PrepareMigration(m.entry.tag, m.Name(), m.file, m.content);
  if (!prepared.ok()) return prepared.status();
  if (!prepared->backfill) return std::shared_ptr<const PreparedMigration>();
  return std::make_shared<const PreparedMigration>(std::move(prepared).value());
}

int CountNewlines(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

std::string DrizzleMigration::Name() const {
  const std::string& t = entry.tag;
  size_t i = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  if (i > 0 && i < t.size() - 1 && t[i] == '_') return t.substr(i + 1);
  return t;
}

std::vector<DrizzleStatement> SplitDrizzleStatements(const std::string& content) {
  std::vector<DrizzleStatement> out;
  int line = 1;
  for (const std::string& part : SplitOnBreakpoints(content)) {
    if (!IsBlankStatement(part)) {
      DrizzleStatement st;
      st.text = part;
      st.index = static_cast<int>(out.size()) + 1;
      st.line = FirstCodeLine(part, line);
      out.push_back(std::move(st));
    }
    // Parts are exact substrings, so the next one starts after this one and the marker.
    line += CountNewlines(part) + CountNewlines(kBreakpoint);
  }
  return out;
}

Result<DrizzleFolder> LoadDrizzleFolder(FileSystem* fs, const std::string& folder, MigrationFileCache* cache,
                                        DrizzleLoadMemo* memo) {
  DrizzleLoadMemo next;
  DrizzleFolder f;
  f.folder = folder;
  f.journal_path = JoinPath(JoinPath(folder, "meta"), "_journal.json");
  if (!fs->IsDir(folder)) return Status::Invalid("drizzle migrations folder " + folder + " does not exist");
  if (!fs->Exists(f.journal_path))
    return Status::Invalid(f.journal_path + " not found: a Drizzle Kit folder has meta/_journal.json (run drizzle-kit generate)");
  auto text = fs->ReadFile(f.journal_path);
  if (!text.ok()) return text.status().WithCode(Code::kInvalidArgument);
  SU_ASSIGN_OR_RETURN(f.journal, ParseDrizzleJournal(f.journal_path, *text));

  for (size_t i = 0; i < f.journal.entries.size(); ++i) {
    DrizzleMigration m;
    m.entry = f.journal.entries[i];
    m.position = static_cast<int>(i);
    m.file = JoinPath(folder, m.entry.tag + ".sql");
    if (!fs->Exists(m.file))
      return Status::Invalid("migration file " + m.file + " not found; it is listed in " + f.journal_path +
                             " as entry " + std::to_string(i) + " (tag \"" + m.entry.tag +
                             "\"): restore the file or remove the entry");
    if (cache) {
      // The cache refuses a NUL byte or invalid UTF-8 (as below); valid UTF-8 is unchanged by
      // Node's round trip, so its checksum is drizzle's hash.
      auto text = cache->Text(fs, m.file);
      if (!text.ok())
        return text.status().WithContext("reading " + m.file + " (journal entry " + std::to_string(i) + ")");
      m.content = (*text)->content;
      m.hash = (*text)->checksum;
      DrizzleLoadMemo::File& kept = next.files[m.file];
      if (memo) {
        auto it = memo->files.find(m.file);
        if (it != memo->files.end() && it->second.text == *text) {
          kept.statements = std::move(it->second.statements);
          kept.phase = it->second.phase;
          kept.backfill = it->second.backfill;
        }
      }
      kept.text = *text;
      if (kept.statements.empty()) kept.statements = SplitDrizzleStatements(m.content);
      if (!kept.phase) {
        SU_ASSIGN_OR_RETURN(Directives d, ReadMigrationDirectives(m.file, m.content));
        SU_ASSIGN_OR_RETURN(kept.phase, MigrationPhaseOf(m.file, d));
        SU_ASSIGN_OR_RETURN(kept.backfill, PrepareIfDirected(m, d, *text));
      }
      m.phase = *kept.phase;
      m.backfill = kept.backfill;
      m.statements = kept.statements;
      f.migrations.push_back(std::move(m));
      continue;
    }
    auto raw = fs->ReadFile(m.file);
    if (!raw.ok())
      return raw.status().WithContext("reading " + m.file + " (journal entry " + std::to_string(i) + ")");
    // drizzle-orm would run the text up to a NUL (libpq) and turn bad UTF-8 into U+FFFD inside
    // the user's statements; refuse both before anything runs.
    SU_RETURN_IF_ERROR(CheckMigrationText(m.file, *raw));
    m.content = NodeUtf8RoundTrip(*raw);
    m.hash = Sha256Hex(m.content);
    m.statements = SplitDrizzleStatements(m.content);
    SU_ASSIGN_OR_RETURN(Directives d, ReadMigrationDirectives(m.file, m.content));
    SU_ASSIGN_OR_RETURN(m.phase, MigrationPhaseOf(m.file, d));
    SU_ASSIGN_OR_RETURN(m.backfill, PrepareIfDirected(m, d, nullptr));
    f.migrations.push_back(std::move(m));
  }
  if (memo) *memo = std::move(next);
  return f;
}

}  // namespace su
