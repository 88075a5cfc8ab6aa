// Typed YAML mapping reader with error collection (see yaml_fields.h).
#include "reconcilers/manifest/yaml_fields.h"

#include <climits>

#include "reconcilers/base/duration.h"
#include "reconcilers/manifest/did_you_mean.h"

namespace su::manifest_internal {
namespace {

constexpr size_t kMaxReportedErrors = 25;

// Plain (unquoted, untagged) scalars are the only ones YAML resolves to bool or int.
bool IsPlain(const YAML::Node& n) { return n.Tag() == "?"; }

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

int LineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  int l = node.Mark().line;
  return l < 0 ? 0 : l + 1;
}

void Errors::Add(int line, const std::string& path, const std::string& what) {
  std::string s = with_lines_ ? file_ + ":" + std::to_string(line) + ": " : file_ + ": ";
  if (!path.empty()) s += path + ": ";
  lines_.push_back(s + what);
}

Status Errors::ToStatus() const {
  std::string msg;
  for (size_t i = 0; i < lines_.size() && i < kMaxReportedErrors; ++i) {
    if (i) msg += "\n";
    msg += lines_[i];
  }
  if (lines_.size() > kMaxReportedErrors) {
    msg += "\n... and " + std::to_string(lines_.size() - kMaxReportedErrors) + " more errors";
  }
  return Status::Invalid(msg);
}

std::string DescribeNode(const YAML::Node& n) {
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "null";
  if (n.IsScalar()) return IsPlain(n) ? "a plain scalar" : "a quoted string";
  return "nothing";
}

MapReader::MapReader(Errors* errs, const YAML::Node& node, std::string path, int line,
                     std::vector<std::string> known, std::vector<std::string> ignored)
    : errs_(errs), path_(std::move(path)), line_(line) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    errs_->Add(line_, path_, "is " + DescribeNode(node) + "; expected a mapping with fields " + Join(known));
    return;
  }
  present_ = true;
  std::map<std::string, int> seen;  // name -> line, including fields whose value is null
  for (const auto& kv : node) {
    const YAML::Node& k = kv.first;
    int kline = LineOf(k);
    if (!k.IsScalar()) {
      errs_->Add(kline, path_, "has a key that is " + DescribeNode(k) + "; expected field names");
      continue;
    }
    const std::string name = k.Scalar();
    bool is_known = false;
    for (const auto& s : known) is_known |= (s == name);
    bool is_ignored = false;
    for (const auto& s : ignored) is_ignored |= (s == name);
    if (is_ignored) continue;
    if (!is_known) {
      // Never quote the value: a misplaced field may well hold a DSN or password.
      std::string hint = ClosestMatch(name, known);
      errs_->Add(kline, Path(name),
                 hint.empty() ? "unknown field; expected one of " + Join(known)
                              : "unknown field; did you mean " + hint + "?");
      continue;
    }
    auto [first, fresh] = seen.emplace(name, kline);
    if (!fresh) {
      errs_->Add(kline, Path(name),
                 "is set twice (first at line " + std::to_string(first->second) +
                     "); expected each field once");
      continue;
    }
    if (kv.second.IsNull()) {  // `key:` / `key: ~` mean "not set"; keep the line for errors
      null_lines_[name] = kline;
      continue;
    }
    fields_[name] = Entry{kv.second, kline};
  }
}

std::string MapReader::Path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

const MapReader::Entry* MapReader::Find(const std::string& key) const {
  auto it = fields_.find(key);
  return it == fields_.end() ? nullptr : &it->second;
}

int MapReader::KeyLine(const std::string& key) const {
  const Entry* e = Find(key);
  if (e) return e->line;
  auto n = null_lines_.find(key);
  return n == null_lines_.end() ? line_ : n->second;
}

void MapReader::Required(const std::string& key, const std::string& expected) {
  errs_->Add(line_, Path(key), "is required; expected " + expected);
}

void MapReader::Error(const std::string& key, const std::string& what) {
  errs_->Add(KeyLine(key), Path(key), what);
}

void MapReader::TypeError(const std::string& key, const std::string& expected, const YAML::Node& got) {
  Error(key, "is " + DescribeNode(got) + "; expected " + expected);
}

bool MapReader::String(const std::string& key, std::string* out) {
  const Entry* e = Find(key);
  if (!e) return false;
  if (!e->value.IsScalar()) {
    TypeError(key, "a string", e->value);
    return false;
  }
  if (e->value.Scalar().empty()) {
    Error(key, "is empty; expected a non-empty string (or leave the field out)");
    return false;
  }
  *out = e->value.Scalar();
  return true;
}

bool MapReader::Bool(const std::string& key, bool* out) {
  const Entry* e = Find(key);
  if (!e) return false;
  const YAML::Node& v = e->value;
  if (v.IsScalar() && IsPlain(v)) {
    const std::string& s = v.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") { *out = true; return true; }
    if (s == "false" || s == "False" || s == "FALSE") { *out = false; return true; }
    Error(key, "is \"" + s + "\"; expected a boolean: true or false");
    return false;
  }
  TypeError(key, "a boolean: true or false (unquoted)", v);
  return false;
}

bool MapReader::Int(const std::string& key, long long* out) {
  const Entry* e = Find(key);
  if (!e) return false;
  const YAML::Node& v = e->value;
  if (!v.IsScalar() || !IsPlain(v)) {
    TypeError(key, "an integer (unquoted)", v);
    return false;
  }
  const std::string& s = v.Scalar();
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  bool digits = i < s.size() && s.size() - i <= 18;
  for (size_t j = i; j < s.size() && digits; ++j) digits = s[j] >= '0' && s[j] <= '9';
  if (!digits) {
    Error(key, "is \"" + s + "\"; expected an integer");
    return false;
  }
  *out = std::stoll(s);
  return true;
}

bool MapReader::Duration(const std::string& key, std::chrono::milliseconds* out) {
  const Entry* e = Find(key);
  if (!e) return false;
  if (!e->value.IsScalar()) {
    TypeError(key, "a duration such as 500ms, 5s, 30m, 2h or 1h30m", e->value);
    return false;
  }
  auto d = ParseDuration(e->value.Scalar());
  if (!d.ok()) {
    Error(key, d.status().message());
    return false;
  }
  *out = *d;
  return true;
}

bool MapReader::StringList(const std::string& key, std::vector<std::string>* out) {
  const Entry* e = Find(key);
  if (!e) return false;
  if (!e->value.IsSequence()) {
    TypeError(key, "a list of strings, e.g. [a, b]", e->value);
    return false;
  }
  if (e->value.size() == 0) {
    Error(key, "is an empty list; expected at least one item (or leave the field out)");
    return false;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (size_t i = 0; i < e->value.size(); ++i) {
    const YAML::Node item = e->value[i];
    std::string p = Path(key) + "[" + std::to_string(i) + "]";
    if (!item.IsScalar() || item.Scalar().empty()) {
      errs_->Add(LineOf(item) ? LineOf(item) : e->line, p,
                 "is " + (item.IsScalar() ? std::string("empty") : DescribeNode(item)) +
                     "; expected a non-empty string");
      ok = false;
      continue;
    }
    items.push_back(item.Scalar());
  }
  if (ok) *out = std::move(items);
  return ok;
}

bool MapReader::StringMap(const std::string& key, std::map<std::string, std::string>* out) {
  const Entry* e = Find(key);
  if (!e) return false;
  if (!e->value.IsMap()) {
    TypeError(key, "a mapping of strings to strings", e->value);
    return false;
  }
  std::map<std::string, std::string> m;
  bool ok = true;
  for (const auto& kv : e->value) {
    if (!kv.first.IsScalar() || !(kv.second.IsScalar() || kv.second.IsNull())) {
      errs_->Add(LineOf(kv.first), Path(key),
                 "has an entry that is not string: string; expected a mapping of strings to strings");
      ok = false;
      continue;
    }
    m[kv.first.Scalar()] = kv.second.IsNull() ? "" : kv.second.Scalar();
  }
  if (ok) *out = std::move(m);
  return ok;
}

std::vector<MapReader> MapReader::MapList(const std::string& key, const std::vector<std::string>& known) {
  std::vector<MapReader> out;
  const Entry* e = Find(key);
  if (!e) return out;
  if (!e->value.IsSequence()) {
    TypeError(key, "a list of mappings, e.g. [{name: kratos}]", e->value);
    return out;
  }
  for (size_t i = 0; i < e->value.size(); ++i) {
    const YAML::Node item = e->value[i];
    std::string p = Path(key) + "[" + std::to_string(i) + "]";
    int line = LineOf(item) ? LineOf(item) : e->line;
    if (!item.IsMap()) {
      errs_->Add(line, p, "is " + DescribeNode(item) + "; expected a mapping with fields " + Join(known));
      continue;
    }
    out.emplace_back(errs_, item, p, line, known);
  }
  return out;
}

MapReader MapReader::Map(const std::string& key, std::vector<std::string> known,
                         std::vector<std::string> ignored) {
  const Entry* e = Find(key);
  return MapReader(errs_, e ? e->value : YAML::Node(), Path(key),
                   KeyLine(key), std::move(known), std::move(ignored));
}

}  // namespace su::manifest_internal
