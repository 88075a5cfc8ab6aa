// Folder reading and validation for the sql engine (see sql_folder.h).
#include "reconcilers/engines/sql/sql_folder.h"

#include <algorithm>
#include <string_view>

#include "reconcilers/base/sha256.h"
#include "reconcilers/base/text_check.h"

namespace su {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '-';
}

Status BadName(const std::string& file, const std::string& why) {
  return Status::Invalid(file + ": not a migration file name: " + why +
                         " (expected <version>_<name>[.postgres][.autocommit].up.sql or the same with .down.sql, "
                         "version digits only, name letters, digits, '_' or '-', e.g. 20260515_add_role.up.sql)");
}

}  // namespace

int CompareVersions(std::string_view a, std::string_view b) {
  // Allocation-free: a no-op pass compares every applied and every file version.
  auto strip = [](std::string_view v) {
    size_t i = 0;
    while (i + 1 < v.size() && v[i] == '0') ++i;
    return v.substr(i);
  };
  std::string_view x = strip(a), y = strip(b);
  if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
  int c = x.compare(y);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

Result<SqlFileName> ParseSqlFileName(const std::string& file) {
  SqlFileName out;
  if (!EndsWith(file, ".sql")) {
    out.skipped = true;
    return out;
  }
  std::string stem;
  if (EndsWith(file, ".up.sql")) {
    stem = file.substr(0, file.size() - 7);
  } else if (EndsWith(file, ".down.sql")) {
    stem = file.substr(0, file.size() - 9);
    out.up = false;
  } else {
    return BadName(file, "it must end in .up.sql or .down.sql");
  }
  // popx: <version>_<name>[.<dialect>][.autocommit]
  auto dot = stem.find('.');
  if (dot != std::string::npos) {
    std::vector<std::string> suffixes;
    for (size_t start = dot + 1;;) {
      size_t next = stem.find('.', start);
      suffixes.push_back(stem.substr(start, next == std::string::npos ? std::string::npos : next - start));
      if (next == std::string::npos) break;
      start = next + 1;
    }
    stem = stem.substr(0, dot);
    if (!suffixes.empty() && suffixes.back() == "autocommit") {
      out.autocommit = true;
      suffixes.pop_back();
    }
    if (suffixes.size() > 1) {
      return BadName(file, "too many '.' parts before .up/.down (popx allows one dialect and then .autocommit)");
    }
    if (suffixes.size() == 1) {
      const std::string& dialect = suffixes[0];
      if (dialect == "mysql" || dialect == "mariadb" || dialect == "sqlite3" || dialect == "sqlite" ||
          dialect == "cockroach" || dialect == "cockroachdb" || dialect == "crdb") {
        out.skipped = true;
        return out;
      }
      if (dialect != "postgres" && dialect != "postgresql" && dialect != "pg" && dialect != "pgx") {
        return BadName(file, "unexpected '." + dialect +
                                 "' before .up/.down (only a popx dialect such as .postgres, then .autocommit, "
                                 "may appear there)");
      }
      out.postgres = true;
    }
  }
  size_t i = 0;
  while (i < stem.size() && IsDigit(stem[i])) ++i;
  if (i == 0) return BadName(file, "it does not start with a version number");
  if (i >= stem.size() || stem[i] != '_') return BadName(file, "the version must be followed by '_' and a name");
  out.version = stem.substr(0, i);
  out.name = stem.substr(i + 1);
  if (out.name.empty()) return BadName(file, "the name after the version is empty");
  if (out.version.size() > 48) return BadName(file, "the version is longer than 48 digits (schema_migration.version is VARCHAR(48))");
  for (char c : out.name) {
    if (!IsNameChar(c)) return BadName(file, std::string("the name contains '") + c + "'");
  }
  return out;
}

Result<std::vector<SqlMigrationFile>> ListSqlFolder(FileSystem* fs, const std::string& folder) {
  auto entries = fs->ListDirEntries(folder);
  if (!entries.ok()) return entries.status().WithContext("reading the sql migrations folder");

  // A vector sorted once, not a map: a no-op apply lists thousands of files on every run.
  struct Item {
    SqlFileName parsed;
    const DirEntry* entry;
    size_t zeros = 0;  // leading zeros of the version, skipped: "001" and "1" collide as they should
    // An offset, not a string_view: moving an Item moves a short (inline) version string.
    std::string_view key() const { return std::string_view(parsed.version).substr(zeros); }
  };
  std::vector<Item> items;
  items.reserve(entries->size());
  for (const auto& entry : *entries) {
    auto parsed = ParseSqlFileName(entry.name);
    if (!parsed.ok()) return parsed.status().WithContext(folder);
    if (parsed->skipped) continue;
    if (entry.is_dir) {
      return Status::Invalid(JoinPath(folder, entry.name) +
                             ": is a directory named like a migration file; expected a regular file "
                             "(rename or remove the directory)");
    }
    items.push_back(Item{std::move(*parsed), &entry});
  }
  for (auto& it : items) {
    const std::string& v = it.parsed.version;
    while (it.zeros + 1 < v.size() && v[it.zeros] == '0') ++it.zeros;
  }
  // Numeric order (shorter first, then by digits), which is CompareVersions' order; stable, so the
  // files of one version keep the listing's (name) order.
  // Zero-padded versions are in that order already (the listing is sorted by name): checked first.
  auto numeric = [](const Item& a, const Item& b) {
    std::string_view x = a.key(), y = b.key();
    return x.size() != y.size() ? x.size() < y.size() : x < y;
  };
  if (!std::is_sorted(items.begin(), items.end(), numeric)) std::stable_sort(items.begin(), items.end(), numeric);

  struct Side {
    const std::string* file = nullptr;  // chosen file name for this direction
    bool postgres = false;
  };
  std::vector<SqlMigrationFile> out;
  out.reserve(items.size());
  for (size_t g = 0; g < items.size();) {
    size_t end = g;
    while (end < items.size() && items[end].key() == items[g].key()) ++end;
    SqlMigrationFile m;
    Side up, down;
    for (size_t k = g; k < end; ++k) {
      const SqlFileName& parsed = items[k].parsed;
      const std::string& file = items[k].entry->name;
      Side& side = parsed.up ? up : down;
      if (side.file != nullptr) {
        if (side.postgres == parsed.postgres) {
          return Status::Invalid(folder + ": duplicate migration version " + parsed.version + ": " + *side.file +
                                 " and " + file +
                                 " (each version may have one .up.sql and one .down.sql, plus .postgres variants; "
                                 "renumber one of them)");
        }
        // popx: the .postgres file beats the dialect-less one of the same version and direction.
        if (side.postgres) continue;
      }
      const Side& other = parsed.up ? down : up;
      if (other.file != nullptr && (m.version != parsed.version || m.name != parsed.name)) {
        return Status::Invalid(folder + ": " + *other.file + " and " + file +
                               " have the same version but different names (an up and its down file must share "
                               "<version>_<name>)");
      }
      side.file = &file;
      side.postgres = parsed.postgres;
      m.version = parsed.version;
      m.name = parsed.name;
      if (parsed.up) {
        m.up_path = JoinPath(folder, file);
        m.up_autocommit = parsed.autocommit;
      } else {
        m.down_path = JoinPath(folder, file);
        m.down_autocommit = parsed.autocommit;
      }
    }
    if (up.file == nullptr) {
      return Status::Invalid(JoinPath(folder, *down.file) + ": a down migration without its up migration (add " +
                             m.version + "_" + m.name + ".up.sql or remove this file)");
    }
    out.push_back(std::move(m));
    g = end;
  }
  return out;
}

Status CheckMigrationDirectiveKeys(const Directives& d) {
  return CheckDirectiveKeys(d, {"phase", "no-transaction", "backfill", "table", "key", "batch", "min-batch",
                                "max-batch", "batch-time", "pause", "max-lag", "adaptive"});
}

Result<Directives> ReadMigrationDirectives(const std::string& file, std::string_view text) {
  // Cheap refusal first: almost no file has a directive.
  if (text.find("-- schema-upgrade") == std::string_view::npos) return Directives{};
  auto parsed = ParseDirectives(text);
  if (!parsed.ok()) return parsed.status().WithContext(file);
  Directives out;
  int ignore_line = 0;
  for (auto& d : parsed->items) {
    // `-- schema-upgrade: lint-ignore rule-a,rule-b` is the linter's (lint.h): its words are rule ids.
    if (d.key == "lint-ignore") ignore_line = d.line;
    if (d.line == ignore_line) continue;
    out.items.push_back(std::move(d));
  }
  if (Status s = CheckMigrationDirectiveKeys(out); !s.ok()) return s.WithContext(file);
  return out;
}

bool DirectivesBeyondPhase(const Directives& d) {
  for (const Directive& item : d.items) {
    if (item.key != "phase") return true;
  }
  return false;
}

Result<MigrationPhase> MigrationPhaseOf(const std::string& file, const Directives& d) {
  const Directive* p = d.Find("phase");
  if (!p || p->value == "expand") return MigrationPhase::kExpand;
  if (p->value == "contract") return MigrationPhase::kContract;
  return Status::Invalid(file + ": line " + std::to_string(p->line) + ": phase=" +
                         (p->value.empty() ? std::string("(no value)") : p->value) +
                         " is not a phase; write phase=expand (the default) or phase=contract");
}

Result<std::vector<SqlMigrationFile>> ReadSqlFolder(FileSystem* fs, const std::string& folder) {
  SU_ASSIGN_OR_RETURN(std::vector<SqlMigrationFile> out, ListSqlFolder(fs, folder));
  for (auto& m : out) {
    auto content = fs->ReadFile(m.up_path);
    if (!content.ok()) return content.status();
    m.up_sql = std::move(content).value();
    SU_RETURN_IF_ERROR(CheckMigrationText(m.up_path, m.up_sql));
    m.checksum = Sha256Hex(m.up_sql);
  }
  return out;
}

}  // namespace su
