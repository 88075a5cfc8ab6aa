// Directive comments of a migration file (see directive.h).
#include "reconcilers/sqltext/directive.h"

namespace su {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view TrimLeft(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsBlank(s[i])) ++i;
  return s.substr(i);
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::string LineError(int line, const std::string& what) {
  return "line " + std::to_string(line) + ": " + what;
}

// Splits the words after the prefix into directives.
Status ParseWords(std::string_view rest, int line, Directives* out) {
  size_t i = 0;
  while (true) {
    while (i < rest.size() && IsBlank(rest[i])) ++i;
    if (i >= rest.size()) break;
    size_t start = i;
    while (i < rest.size() && !IsBlank(rest[i]) && rest[i] != '=') ++i;
    std::string key(rest.substr(start, i - start));
    if (key.empty()) return Status::Invalid(LineError(line, "a directive word starts with '=': write key=value"));
    std::string value;
    if (i < rest.size() && rest[i] == '=') {
      ++i;
      if (i < rest.size() && rest[i] == '"') {
        size_t close = rest.find('"', i + 1);
        if (close == std::string_view::npos) {
          return Status::Invalid(LineError(line, "the value of '" + key + "' opens a quote it never closes"));
        }
        value = std::string(rest.substr(i + 1, close - i - 1));
        i = close + 1;
        if (i < rest.size() && !IsBlank(rest[i])) {
          return Status::Invalid(LineError(line, "put a blank after the quoted value of '" + key + "'"));
        }
      } else {
        size_t vstart = i;
        while (i < rest.size() && !IsBlank(rest[i])) ++i;
        value = std::string(rest.substr(vstart, i - vstart));
        if (value.empty()) return Status::Invalid(LineError(line, "'" + key + "=' has no value"));
      }
    }
    if (out->Find(key) != nullptr) {
      return Status::Invalid(LineError(line, "directive '" + key + "' is given twice (first on line " +
                                                 std::to_string(out->Find(key)->line) + ")"));
    }
    out->items.push_back(Directive{line, std::move(key), std::move(value)});
  }
  return Status::Ok();
}

}  // namespace

const Directive* Directives::Find(std::string_view key) const {
  for (const Directive& d : items) {
    if (d.key == key) return &d;
  }
  return nullptr;
}

Result<Directives> ParseDirectives(std::string_view text) {
  Directives out;
  bool in_header = true;  // still in the leading block of blank lines and "--" comments
  bool in_block_comment = false;
  int line = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    ++line;
    std::string_view t = TrimLeft(raw);
    if (t.starts_with("-- schema-upgrade")) {
      std::string_view after = t.substr(std::string_view("-- schema-upgrade").size());
      if (after.empty() || after[0] != ':') {
        if (after.empty() || IsBlank(after[0])) {
          return Status::Invalid(LineError(line, "a schema-upgrade directive needs a ':' after "
                                                 "'-- schema-upgrade' (e.g. '-- schema-upgrade: phase=contract')"));
        }
        // "-- schema-upgrades ..." or similar: not ours.
      } else {
        std::string_view words = TrimLeft(after.substr(1));
        if (words.starts_with("lint-ignore")) {
          // `-- schema-upgrade: lint-ignore a,b` belongs to lint (lint.h), which reads it anywhere
          // in the file; it is not a directive of the migration.
        } else if (!in_header) {
          return Status::Invalid(LineError(line, "a schema-upgrade directive must come before the first SQL "
                                                 "statement of the file (move it to the top)"));
        } else {
          Status s = ParseWords(TrimRight(after.substr(1)), line, &out);
          if (!s.ok()) return s;
        }
      }
    } else if (in_header) {
      if (in_block_comment) {
        if (t.find("*/") != std::string_view::npos) in_block_comment = false;
      } else if (t.empty() || t.starts_with("--")) {
        // still the header
      } else if (t.starts_with("/*")) {
        in_block_comment = t.find("*/", 2) == std::string_view::npos;
      } else {
        in_header = false;
      }
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return out;
}

Status CheckDirectiveKeys(const Directives& d, std::initializer_list<std::string_view> known) {
  for (const Directive& item : d.items) {
    bool found = false;
    for (std::string_view k : known) found = found || item.key == k;
    if (found) continue;
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    return Status::Invalid(LineError(item.line, "unknown schema-upgrade directive '" + item.key +
                                                    "' (known: " + list + ")"));
  }
  return Status::Ok();
}

}  // namespace su
