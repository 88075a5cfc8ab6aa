// ObservationCache::Load and Save (see observation_cache.h): the cache as a text file.
//
// Layout (one record per line, fields separated by tabs, each field escaped: %, tab, CR and LF
// as %25, %09, %0D, %0A):
//   schema-upgrade-observations 1 <tag>
//   S <n> <applied>                        a state, numbered from 0, its applied count, then its lines:
//   V <current> <latest> <uses_phases 0|1>
//   A <version> <name> <checksum> <applied_at>                          per applied migration
//   D <version> <name> <file> <recorded> <file_checksum> <accepted 0|1> per drifted one
//   U <version>   H <version>   N <note>   T <table> <rows>
//   E <key> <digest: 64 hex> <full read: ms since the epoch> <state n>
//   end <states> <entries>
// The last line guards against a cut file (Save writes atomically; the check is for anything
// else). A state with pending migrations or backfills is never written (Put keeps none).
#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reconcilers/base/log.h"
#include "reconcilers/schemaupgrade/observation_cache.h"

namespace su {
namespace observation_file_internal {

constexpr std::string_view kMagic = "schema-upgrade-observations";
constexpr std::string_view kFormat = "1";

void Escape(std::string_view in, std::string* out) {
  for (char c : in) {
    switch (c) {
      case '%': *out += "%25"; break;
      case '\t': *out += "%09"; break;
      case '\r': *out += "%0D"; break;
      case '\n': *out += "%0A"; break;
      default: *out += c;
    }
  }
}

bool Unescape(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    std::string_view code = in.substr(i + 1, 2);
    if (code == "25") *out += '%';
    else if (code == "09") *out += '\t';
    else if (code == "0D") *out += '\r';
    else if (code == "0A") *out += '\n';
    else return false;
    i += 2;
  }
  return true;
}

void Line(std::string* out, std::string_view tag, std::initializer_list<std::string_view> fields) {
  *out += tag;
  for (std::string_view f : fields) {
    *out += '\t';
    Escape(f, out);
  }
  *out += '\n';
}

std::string HexOf(const std::array<unsigned char, 32>& d) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (unsigned char b : d) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

void WriteState(const EngineState& s, std::string* out) {
  Line(out, "V", {s.current_version, s.latest_version, s.uses_phases ? "1" : "0"});
  for (const auto& a : s.applied) Line(out, "A", {a.version, a.name, a.checksum, a.applied_at});
  for (const auto& d : s.drift) {
    Line(out, "D", {d.version, d.name, d.file, d.recorded_checksum, d.file_checksum, d.accepted ? "1" : "0"});
  }
  for (const auto& v : s.unknown) Line(out, "U", {v});
  for (const auto& v : s.ahead) Line(out, "H", {v});
  for (const auto& n : s.notes) Line(out, "N", {n});
  for (const auto& [table, rows] : s.table_rows) Line(out, "T", {table, std::to_string(rows)});
}

// Reads the file into states and entries; false when any line is malformed.
struct Parsed {
  std::vector<EngineState> states;
  struct Entry {
    std::string key, digest;
    long long full_ms = 0;
    size_t state = 0;
  };
  std::vector<Entry> entries;
};

// Splits line at tabs into fields (views into it), at most kMaxFields; false when there are more.
constexpr size_t kMaxFields = 8;
bool Split(std::string_view line, std::array<std::string_view, kMaxFields>* f, size_t* n) {
  *n = 0;
  size_t at = 0;
  for (;;) {
    if (*n == kMaxFields) return false;
    size_t tab = line.find('\t', at);
    (*f)[(*n)++] = line.substr(at, tab == std::string_view::npos ? std::string_view::npos : tab - at);
    if (tab == std::string_view::npos) return true;
    at = tab + 1;
  }
}

// The field's text; false when its escaping is malformed. Most fields hold no '%': one copy.
bool Text(std::string_view in, std::string* out) {
  if (in.find('%') == std::string_view::npos) {
    out->assign(in);
    return true;
  }
  return Unescape(in, out);
}

bool Parse(std::string_view all, const std::string& tag, Parsed* p) {
  std::array<std::string_view, kMaxFields> f;
  size_t n = 0;
  bool header = false, ended = false;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string_view::npos) return false;  // every line ends with one
    std::string_view line = all.substr(pos, nl - pos);
    pos = nl + 1;
    if (ended || !Split(line, &f, &n)) return false;
    std::string_view t = f[0];
    auto text = [&](size_t i, std::string* out) { return Text(f[i], out); };
    if (!header) {
      std::string got;
      if (n != 3 || t != kMagic || f[1] != kFormat || !text(2, &got) || got != tag) return false;
      header = true;
      continue;
    }
    EngineState* s = p->states.empty() ? nullptr : &p->states.back();
    long long num = 0;
    auto number = [&](size_t i, long long* v) {
      auto [end, ec] = std::from_chars(f[i].data(), f[i].data() + f[i].size(), *v);
      return ec == std::errc() && end == f[i].data() + f[i].size() && !f[i].empty();
    };
    auto flag = [&](size_t i) { return f[i] == "0" || f[i] == "1"; };
    if (t == "A" && n == 5 && s != nullptr && p->entries.empty()) {  // most lines: first
      AppliedMigration& a = s->applied.emplace_back();
      if (!text(1, &a.version) || !text(2, &a.name) || !text(3, &a.checksum) || !text(4, &a.applied_at)) return false;
    } else if (t == "S") {
      long long applied = 0;
      if (n != 3 || !number(1, &num) || num != static_cast<long long>(p->states.size()) || !number(2, &applied) ||
          applied < 0 || !p->entries.empty()) {
        return false;
      }
      // The count only sizes the list (no regrowing 5000 entries); a file cannot make it huge.
      p->states.emplace_back().applied.reserve(static_cast<size_t>(std::min<long long>(applied, all.size() / 8)));
    } else if (t == "E") {
      Parsed::Entry e;
      if (n != 5 || !text(1, &e.key) || !text(2, &e.digest) || e.digest.size() != 64 || !number(3, &e.full_ms) ||
          !number(4, &num) || num < 0 || num >= static_cast<long long>(p->states.size())) {
        return false;
      }
      e.state = static_cast<size_t>(num);
      p->entries.push_back(std::move(e));
    } else if (t == "end") {
      long long entries = 0;
      if (n != 3 || !number(1, &num) || num != static_cast<long long>(p->states.size()) || !number(2, &entries) ||
          entries != static_cast<long long>(p->entries.size())) {
        return false;
      }
      ended = true;
    } else if (s == nullptr || !p->entries.empty()) {
      return false;  // state lines come inside a state, before the entries
    } else if (t == "V" && n == 4 && flag(3)) {
      if (!text(1, &s->current_version) || !text(2, &s->latest_version)) return false;
      s->uses_phases = f[3] == "1";
    } else if (t == "D" && n == 7 && flag(6)) {
      DriftedMigration& d = s->drift.emplace_back();
      if (!text(1, &d.version) || !text(2, &d.name) || !text(3, &d.file) || !text(4, &d.recorded_checksum) ||
          !text(5, &d.file_checksum)) {
        return false;
      }
      d.accepted = f[6] == "1";
    } else if ((t == "U" || t == "H" || t == "N") && n == 2) {
      auto& list = t == "U" ? s->unknown : t == "H" ? s->ahead : s->notes;
      if (!text(1, &list.emplace_back())) return false;
    } else if (t == "T" && n == 3 && number(2, &num)) {
      std::string table;
      if (!text(1, &table)) return false;
      s->table_rows[table] = num;
    } else {
      return false;
    }
  }
  return ended;
}

}  // namespace observation_file_internal

void ObservationCache::Load(FileSystem* fs, const std::string& file, const std::string& tag) {
  using namespace observation_file_internal;
  auto text = fs->ReadFile(file);
  Parsed parsed;
  if (!text.ok() || !Parse(*text, tag, &parsed)) {
    if (text.ok()) LogDebug("observations.ignored", {{"file", file}, {"why", "another writer, format or a malformed line"}});
    std::lock_guard<std::mutex> l(mu_);
    saved_changes_ = changes_;
    return;
  }
  const long long now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_->Now().time_since_epoch()).count();
  const auto mono = clock_->MonotonicNow();
  std::vector<std::shared_ptr<const EngineState>> states;
  states.reserve(parsed.states.size());
  for (auto& s : parsed.states) states.push_back(std::make_shared<const EngineState>(std::move(s)));
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& e : parsed.entries) {
    const long long age_ms = now_ms - e.full_ms;
    if (age_ms < 0 || std::chrono::milliseconds(age_ms) >= full_every_) continue;  // future, or due
    entries_[e.key] = Entry{Compact(e.digest), states[e.state], mono - std::chrono::milliseconds(age_ms)};
  }
  saved_changes_ = changes_;
}

Status ObservationCache::Save(FileSystem* fs, const std::string& file, const std::string& tag) {
  using namespace observation_file_internal;
  WaitLoaded();
  const long long now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_->Now().time_since_epoch()).count();
  const auto mono = clock_->MonotonicNow();
  std::string out;
  long long changes = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (changes_ == saved_changes_) return Status::Ok();  // nothing put or dropped since loaded
    changes = changes_;
    Line(&out, kMagic, {kFormat, tag});
    std::unordered_map<const EngineState*, size_t> numbered;  // a state shared by entries is written once
    std::string entries;
    for (const auto& [key, e] : entries_) {
      auto [it, fresh] = numbered.try_emplace(e.state.get(), numbered.size());
      if (fresh) {
        Line(&out, "S", {std::to_string(it->second), std::to_string(e.state->applied.size())});
        WriteState(*e.state, &out);
      }
      const long long full_ms =
          now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(mono - e.full_at).count();
      Line(&entries, "E", {key, HexOf(e.digest), std::to_string(full_ms), std::to_string(it->second)});
    }
    out += entries;
    Line(&out, "end", {std::to_string(numbered.size()), std::to_string(entries_.size())});
  }
  SU_RETURN_IF_ERROR(fs->WriteFileAtomic(file, out));
  std::lock_guard<std::mutex> l(mu_);
  saved_changes_ = changes;
  return Status::Ok();
}

}  // namespace su
