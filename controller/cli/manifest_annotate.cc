// Line-based annotation edit (see manifest_annotate.h).
#include "controller/cli/manifest_annotate.h"

#include <yaml-cpp/yaml.h>

#include <sstream>
#include <vector>

namespace su {
namespace {

int Indent(const std::string& line) {
  int n = 0;
  while (n < static_cast<int>(line.size()) && line[n] == ' ') ++n;
  return n;
}

bool Blank(const std::string& line) {
  int i = Indent(line);
  return i >= static_cast<int>(line.size()) || line[i] == '#' || line[i] == '\r';
}

std::string Unquote(std::string v) {
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.pop_back();
  auto hash = v.find(" #");
  if (hash != std::string::npos) v = v.substr(0, hash);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
  return v;
}

// "  key: value" -> key (trimmed, unquoted), or "" when the line is not a mapping entry.
std::string KeyOf(const std::string& line, std::string* value) {
  int i = Indent(line);
  auto colon = line.find(": ", i);
  bool bare = false;
  if (colon == std::string::npos) {
    std::string t = line;
    while (!t.empty() && (t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (!t.empty() && t.back() == ':') {
      colon = t.size() - 1;
      bare = true;
    } else {
      return "";
    }
  }
  if (value) *value = bare ? "" : Unquote(line.substr(colon + 2));
  return Unquote(line.substr(i, colon - i));
}

// Writes n in flow style, keeping each scalar's form: a quoted one (yaml-cpp tags it "!") double
// quoted, a plain one plain, so no value changes type (`"007"` stays a string).
void EmitFlow(const YAML::Node& n, YAML::Emitter& out) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      out << YAML::Flow << YAML::BeginMap;
      for (const auto& kv : n) {
        out << YAML::Key;
        EmitFlow(kv.first, out);
        out << YAML::Value;
        EmitFlow(kv.second, out);
      }
      out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      out << YAML::Flow << YAML::BeginSeq;
      for (const auto& v : n) EmitFlow(v, out);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar:
      if (n.Tag() == "!") out << YAML::DoubleQuoted;
      out << n.Scalar();
      return;
    default:
      out << YAML::Null;
  }
}

// The flow collection that opens at lines[line][col] ('{'): where it closes (line, column of the
// matching '}'), quotes and nesting followed; false when it does not close before `end`.
bool FlowEnd(const std::vector<std::string>& lines, size_t line, size_t col, size_t end, size_t* end_line,
             size_t* end_col) {
  int depth = 0;
  char quote = 0;
  for (size_t i = line; i < end; ++i) {
    for (size_t c = i == line ? col : 0; c < lines[i].size(); ++c) {
      const char ch = lines[i][c];
      if (quote) {
        if (quote == '"' && ch == '\\') {
          ++c;
        } else if (ch == quote) {
          if (quote == '\'' && c + 1 < lines[i].size() && lines[i][c + 1] == '\'') {
            ++c;  // '' inside a single-quoted scalar
          } else {
            quote = 0;
          }
        }
        continue;
      }
      if (ch == '"' || ch == '\'') {
        quote = ch;
      } else if (ch == '#' && (c == 0 || lines[i][c - 1] == ' ')) {
        break;  // a comment: the rest of the line
      } else if (ch == '{' || ch == '[') {
        ++depth;
      } else if (ch == '}' || ch == ']') {
        if (--depth == 0) {
          *end_line = i;
          *end_col = c;
          return true;
        }
      }
    }
  }
  return false;
}

// The flow mapping written inline after `key:` on lines[at] (`metadata: {name: x}` or
// `annotations: {a: b}`, possibly over several lines), with annotation key set to value, written
// back in flow style in the same place. check_name: the mapping is metadata and must be `name`'s
// (false with *other = true when it is another document's). Comments inside the mapping are lost.
Result<bool> SetInFlow(std::vector<std::string>& lines, size_t at, size_t end, const std::string& what,
                       const std::string& name, bool check_name, const std::string& key, const std::string& value) {
  const size_t open = lines[at].find('{', lines[at].find(':'));
  size_t close_line = 0, close_col = 0;
  if (open == std::string::npos || !FlowEnd(lines, at, open, end, &close_line, &close_col)) {
    return Status::Invalid(what + " of " + name + " is written inline but is not a flow mapping ({...}) that closes; "
                           "add the annotation by hand");
  }
  std::string flow = lines[at].substr(open);
  if (close_line == at) {
    flow = lines[at].substr(open, close_col - open + 1);
  } else {
    for (size_t i = at + 1; i < close_line; ++i) flow += "\n" + lines[i];
    flow += "\n" + lines[close_line].substr(0, close_col + 1);
  }
  YAML::Node node;
  try {
    node = YAML::Load(flow);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(what + " of " + name + " cannot be read: " + e.msg);
  }
  if (!node.IsMap()) return Status::Invalid(what + " of " + name + " is not a mapping");
  if (check_name) {
    if (!node["name"] || !node["name"].IsScalar() || node["name"].Scalar() != name) return false;
    YAML::Node ann = node["annotations"];
    if (ann && !ann.IsNull() && !ann.IsMap()) return Status::Invalid("metadata.annotations of " + name + " is not a mapping");
    YAML::Node v(value);
    v.SetTag("!");  // a string, written quoted
    node["annotations"][key] = v;
  } else {
    YAML::Node v(value);
    v.SetTag("!");
    node[key] = v;
  }
  YAML::Emitter out;
  EmitFlow(node, out);
  if (!out.good()) return Status::Invalid(what + " of " + name + " cannot be written back: " + out.GetLastError());
  const std::string rest = lines[close_line].substr(close_col + 1);
  lines[at] = lines[at].substr(0, open) + out.c_str() + rest;
  lines.erase(lines.begin() + static_cast<long>(at + 1), lines.begin() + static_cast<long>(close_line + 1));
  return true;
}

std::string Join(const std::vector<std::string>& lines, bool trailing_newline) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += lines[i] + (i + 1 < lines.size() || trailing_newline ? "\n" : "");
  return out;
}

}  // namespace

Result<std::string> SetAnnotation(const std::string& text, const std::string& name, const std::string& key,
                                  const std::string& value) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  bool trailing_newline = !text.empty() && text.back() == '\n';
  std::string entry = key + ": \"" + value + "\"";

  // Document boundaries.
  std::vector<std::pair<size_t, size_t>> docs;
  size_t start = 0;
  for (size_t i = 0; i <= lines.size(); ++i) {
    if (i == lines.size() || lines[i].rfind("---", 0) == 0) {
      if (i > start) docs.emplace_back(start, i);
      start = i + 1;
    }
  }
  for (auto [b, e] : docs) {
    // Find top-level metadata: and its name.
    size_t meta = e;
    for (size_t i = b; i < e; ++i) {
      if (Indent(lines[i]) == 0 && KeyOf(lines[i], nullptr) == "metadata") meta = i;
    }
    if (meta == e) continue;
    std::string inline_meta;
    (void)KeyOf(lines[meta], &inline_meta);
    if (!inline_meta.empty()) {  // metadata: {name: x, ...}
      SU_ASSIGN_OR_RETURN(bool mine, SetInFlow(lines, meta, e, "metadata", name, true, key, value));
      if (!mine) continue;
      return Join(lines, trailing_newline);
    }
    int child = -1;
    size_t meta_end = e, annotations = e;
    std::string doc_name;
    for (size_t i = meta + 1; i < e; ++i) {
      if (Blank(lines[i])) continue;
      int ind = Indent(lines[i]);
      if (ind == 0) {
        meta_end = i;
        break;
      }
      if (child < 0) child = ind;
      if (ind != child) continue;
      std::string v;
      std::string k = KeyOf(lines[i], &v);
      if (k == "name") doc_name = v;
      if (k == "annotations") annotations = i;
    }
    if (doc_name != name) continue;
    std::string inline_ann;
    if (annotations != e) (void)KeyOf(lines[annotations], &inline_ann);
    if (!inline_ann.empty()) {  // annotations: {a: b}
      SU_ASSIGN_OR_RETURN(bool done, SetInFlow(lines, annotations, meta_end, "metadata.annotations", name, false, key, value));
      (void)done;
      return Join(lines, trailing_newline);
    }
    if (child < 0) return Status::Invalid("metadata of " + name + " is empty");
    if (annotations == e) {
      lines.insert(lines.begin() + static_cast<long>(meta + 1),
                   {std::string(child, ' ') + "annotations:", std::string(child * 2, ' ') + entry});
    } else {
      int ann_child = -1;
      size_t insert_at = annotations + 1;
      bool replaced = false;
      for (size_t i = annotations + 1; i < meta_end; ++i) {
        if (Blank(lines[i])) continue;
        int ind = Indent(lines[i]);
        if (ind <= child) break;
        if (ann_child < 0) ann_child = ind;
        insert_at = i + 1;
        if (ind == ann_child && KeyOf(lines[i], nullptr) == key) {
          lines[i] = std::string(ind, ' ') + entry;
          replaced = true;
          break;
        }
      }
      if (!replaced) {
        if (ann_child < 0) ann_child = child * 2;
        lines.insert(lines.begin() + static_cast<long>(insert_at), std::string(ann_child, ' ') + entry);
      }
    }
    return Join(lines, trailing_newline);
  }
  return Status::Error(Code::kNotFound, "no document with metadata.name " + name + " in the manifest");
}

}  // namespace su
