// ParseDrizzleJournal (see journal.h): the only file of the drizzle engine that includes
// cpprestsdk. Every json_exception is caught here and turned into a Status naming the file.
#include "reconcilers/engines/drizzle/journal.h"

#include <cpprest/json.h>

#include <set>
#include <system_error>

namespace su {
namespace {

using web::json::value;

std::string KindOf(const value& v) {
  switch (v.type()) {
    case value::Null: return "null";
    case value::Number: return v.is_integer() ? "an integer" : "a non-integer number";
    case value::Boolean: return "a boolean";
    case value::String: return "a string";
    case value::Object: return "an object";
    case value::Array: return "an array";
  }
  return "something else";
}

// "entry 3 (tag "0003_x")" or "entry 3" when the tag is not known yet; 0-based like idx.
std::string EntryName(size_t i, const std::string& tag) {
  std::string s = "entry " + std::to_string(i);
  if (!tag.empty()) s += " (tag \"" + tag + "\")";
  return s;
}

bool UnsafeTag(const std::string& tag) {
  if (tag.front() == '/' || tag.find('\0') != std::string::npos) return true;
  // Any ".." path segment could read outside the migrations folder.
  size_t start = 0;
  while (start <= tag.size()) {
    size_t end = tag.find('/', start);
    if (end == std::string::npos) end = tag.size();
    if (tag.compare(start, end - start, "..") == 0 && end - start == 2) return true;
    start = end + 1;
  }
  return false;
}

Result<DrizzleJournalEntry> ParseEntry(const std::string& path, size_t i, const value& v) {
  auto bad = [&](const std::string& tag, const std::string& what) {
    return Status::Invalid(path + ": " + EntryName(i, tag) + ": " + what);
  };
  if (!v.is_object()) return bad("", "expected an object, found " + KindOf(v));
  const auto& obj = v.as_object();
  DrizzleJournalEntry e;

  auto tag_it = obj.find("tag");
  if (tag_it == obj.end()) return bad("", "missing \"tag\" (the migration's file name without .sql)");
  if (!tag_it->second.is_string()) return bad("", "\"tag\" must be a string, found " + KindOf(tag_it->second));
  e.tag = tag_it->second.as_string();
  if (e.tag.empty()) return bad("", "\"tag\" is empty");
  if (UnsafeTag(e.tag)) return bad(e.tag, "\"tag\" must name a file inside the migrations folder");

  auto when_it = obj.find("when");
  if (when_it == obj.end()) return bad(e.tag, "missing \"when\" (milliseconds; recorded as created_at)");
  if (!when_it->second.is_integer())
    return bad(e.tag, "\"when\" must be an integer (milliseconds), found " + KindOf(when_it->second));
  const auto& num = when_it->second.as_number();
  if (!num.is_int64()) return bad(e.tag, "\"when\" does not fit in a bigint");
  e.when = num.to_int64();

  e.idx = -1;
  if (auto it = obj.find("idx"); it != obj.end()) {
    if (!it->second.is_integer() || !it->second.as_number().is_int32())
      return bad(e.tag, "\"idx\" must be an integer, found " + KindOf(it->second));
    e.idx = it->second.as_number().to_int32();
  }
  if (auto it = obj.find("version"); it != obj.end()) {
    if (!it->second.is_string()) return bad(e.tag, "\"version\" must be a string, found " + KindOf(it->second));
    e.version = it->second.as_string();
  }
  if (auto it = obj.find("breakpoints"); it != obj.end()) {
    if (!it->second.is_boolean())
      return bad(e.tag, "\"breakpoints\" must be true or false, found " + KindOf(it->second));
    e.breakpoints = it->second.as_bool();
  }
  return e;
}

Result<DrizzleJournal> ParseValue(const std::string& path, const value& root) {
  if (!root.is_object())
    return Status::Invalid(path + ": expected a JSON object with \"entries\", found " + KindOf(root));
  const auto& obj = root.as_object();
  DrizzleJournal j;
  if (auto it = obj.find("version"); it != obj.end() && it->second.is_string()) j.version = it->second.as_string();
  if (auto it = obj.find("dialect"); it != obj.end()) {
    if (!it->second.is_string())
      return Status::Invalid(path + ": \"dialect\" must be a string, found " + KindOf(it->second));
    j.dialect = it->second.as_string();
    if (j.dialect != "postgresql" && j.dialect != "pg")
      return Status::Invalid(path + ": journal dialect is \"" + j.dialect +
                             "\"; the drizzle engine applies PostgreSQL migrations only");
  }
  auto entries_it = obj.find("entries");
  if (entries_it == obj.end()) return Status::Invalid(path + ": missing \"entries\" (the list of migrations)");
  if (!entries_it->second.is_array())
    return Status::Invalid(path + ": \"entries\" must be an array, found " + KindOf(entries_it->second));
  const auto& arr = entries_it->second.as_array();
  std::set<std::string> tags;
  for (size_t i = 0; i < arr.size(); ++i) {
    SU_ASSIGN_OR_RETURN(DrizzleJournalEntry e, ParseEntry(path, i, arr.at(i)));
    if (!tags.insert(e.tag).second)
      return Status::Invalid(path + ": " + EntryName(i, e.tag) +
                             ": the same tag appears earlier in the journal; each migration file must be listed once");
    j.entries.push_back(std::move(e));
  }
  return j;
}

}  // namespace

Result<DrizzleJournal> ParseDrizzleJournal(const std::string& path, const std::string& text) {
  try {
    std::error_code ec;
    value root = value::parse(text, ec);
    if (ec) return Status::Invalid(path + ": not valid JSON: " + ec.message());
    return ParseValue(path, root);
  } catch (const web::json::json_exception& e) {
    return Status::Invalid(path + ": not valid JSON: " + e.what());
  } catch (const std::exception& e) {
    return Status::Invalid(path + ": cannot read the journal: " + e.what());
  }
}

}  // namespace su
