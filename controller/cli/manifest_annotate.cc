// Line-based annotation edit (see manifest_annotate.h).
#include "controller/cli/manifest_annotate.h"

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
      if (k == "annotations") {
        if (!v.empty()) {
          return Status::Invalid("metadata.annotations of " + name + " is written inline (" + v +
                                 "); add `" + entry + "` under it by hand");
        }
        annotations = i;
      }
    }
    if (doc_name != name) continue;
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
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) out += lines[i] + (i + 1 < lines.size() || trailing_newline ? "\n" : "");
    return out;
  }
  return Status::Error(Code::kNotFound, "no document with metadata.name " + name + " in the manifest");
}

}  // namespace su
