// compose_edit: a line scanner that locates one service's image value byte range (see
// compose_edit.h), plus yaml-cpp validation of what it found and what it wrote.
#include "reconcilers/runtimes/podman/compose_edit.h"

#include <yaml-cpp/yaml.h>

#include <vector>

namespace su {
namespace {

struct Line {
  size_t begin = 0;  // first byte
  size_t end = 0;    // one past the last content byte, before "\r\n" / "\n"
  size_t indent = 0;
  bool content = false;  // not blank, not a comment, not a document marker
  int number = 0;        // 1-based
};

std::vector<Line> SplitLines(const std::string& t) {
  std::vector<Line> lines;
  size_t pos = 0;
  int number = 0;
  while (pos < t.size()) {
    Line l;
    l.begin = pos;
    l.number = ++number;
    size_t nl = t.find('\n', pos);
    size_t stop = nl == std::string::npos ? t.size() : nl;
    l.end = (stop > pos && t[stop - 1] == '\r') ? stop - 1 : stop;
    size_t i = pos;
    while (i < l.end && t[i] == ' ') ++i;
    l.indent = i - pos;
    bool marker = l.indent == 0 && (t.compare(pos, 3, "---") == 0 || t.compare(pos, 3, "...") == 0 ||
                                    (i < l.end && t[i] == '%'));
    l.content = i < l.end && t[i] != '#' && !marker;
    lines.push_back(l);
    pos = nl == std::string::npos ? t.size() : nl + 1;
  }
  return lines;
}

std::string LineRef(const Line& l) { return "line " + std::to_string(l.number); }

size_t SkipSpaces(const std::string& t, size_t i, size_t end) {
  while (i < end && (t[i] == ' ' || t[i] == '\t')) ++i;
  return i;
}

// Parses "key:" at the start of a content line. Returns false when the line is not a mapping key
// (a sequence item, a continuation line). *after is the index just past the ':'.
bool ParseKey(const std::string& t, const Line& l, std::string* key, size_t* after) {
  size_t i = l.begin + l.indent;
  if (i >= l.end) return false;
  char c = t[i];
  if (c == '-' && (i + 1 == l.end || t[i + 1] == ' ')) return false;
  if (c == '\'' || c == '"') {
    std::string k;
    size_t j = i + 1;
    for (; j < l.end; ++j) {
      if (c == '\'' && t[j] == '\'') {
        if (j + 1 < l.end && t[j + 1] == '\'') {
          k += '\'';
          ++j;
          continue;
        }
        break;
      }
      if (c == '"' && t[j] == '\\' && j + 1 < l.end) {
        k += t[++j];
        continue;
      }
      if (c == '"' && t[j] == '"') break;
      k += t[j];
    }
    if (j >= l.end) return false;
    j = SkipSpaces(t, j + 1, l.end);
    if (j >= l.end || t[j] != ':') return false;
    *key = k;
    *after = j + 1;
    return true;
  }
  for (size_t j = i; j < l.end; ++j) {
    if (t[j] == '#' && j > i && (t[j - 1] == ' ' || t[j - 1] == '\t')) return false;
    if (t[j] == ':' && (j + 1 == l.end || t[j + 1] == ' ' || t[j + 1] == '\t')) {
      size_t e = j;
      while (e > i && (t[e - 1] == ' ' || t[e - 1] == '\t')) --e;
      *key = t.substr(i, e - i);
      *after = j + 1;
      return true;
    }
  }
  return false;
}

// After "key:" of a mapping that holds a block mapping: only an optional anchor/tag and a comment
// may follow. Returns an error message, or "" when fine.
std::string CheckBlockHeader(const std::string& t, size_t i, size_t end) {
  i = SkipSpaces(t, i, end);
  while (i < end && (t[i] == '&' || t[i] == '!')) {
    while (i < end && t[i] != ' ' && t[i] != '\t') ++i;
    i = SkipSpaces(t, i, end);
  }
  if (i >= end || t[i] == '#') return "";
  if (t[i] == '{') return "is written in flow style ({...}); only block style is supported";
  if (t[i] == '*') return "is an alias (*...); give it its own block";
  return "is not a mapping";
}

// The located image value.
struct ImageSpan {
  size_t begin = 0;  // first byte of the value's content (inside quotes)
  size_t end = 0;    // one past its last byte
  std::string value; // unescaped
};

Result<ImageSpan> LocateImage(const std::string& t, const std::string& service) {
  const std::string svc = "service \"" + service + "\"";
  std::vector<Line> lines = SplitLines(t);
  size_t n = lines.size();

  // 1. `services:` at indent 0.
  size_t si = n;
  for (size_t i = 0; i < n; ++i) {
    const Line& l = lines[i];
    if (!l.content || l.indent != 0) continue;
    std::string key;
    size_t after;
    if (!ParseKey(t, l, &key, &after) || key != "services") continue;
    std::string bad = CheckBlockHeader(t, after, l.end);
    if (!bad.empty()) return Status::Invalid(LineRef(l) + ": services: " + bad);
    si = i;
    break;
  }
  if (si == n) return Status::Error(Code::kNotFound, "no top-level `services:` block");

  // 2. The service key at the services block's child indent.
  size_t block_end = n;
  size_t service_indent = 0;
  size_t found = n;
  for (size_t i = si + 1; i < n; ++i) {
    const Line& l = lines[i];
    if (!l.content) continue;
    if (l.indent == 0) {
      block_end = i;
      break;
    }
    if (service_indent == 0) service_indent = l.indent;
    if (l.indent != service_indent) continue;
    std::string key;
    size_t after;
    if (!ParseKey(t, l, &key, &after) || key != service) continue;
    if (found != n) return Status::Invalid(svc + " is defined twice (" + LineRef(lines[found]) + ", " + LineRef(l) + ")");
    std::string bad = CheckBlockHeader(t, after, l.end);
    if (!bad.empty()) return Status::Invalid(LineRef(l) + ": " + svc + " " + bad);
    found = i;
  }
  if (found == n) return Status::Error(Code::kNotFound, svc + " not found under `services:`");

  // 3. `image:` at the service's property indent.
  size_t prop_indent = 0;
  size_t image_line = n;
  bool has_merge = false;
  for (size_t i = found + 1; i < block_end; ++i) {
    const Line& l = lines[i];
    if (!l.content) continue;
    if (l.indent <= service_indent) break;
    if (prop_indent == 0) prop_indent = l.indent;
    if (l.indent != prop_indent) continue;
    std::string key;
    size_t after;
    if (!ParseKey(t, l, &key, &after)) continue;
    if (key == "<<") has_merge = true;
    if (key != "image") continue;
    if (image_line != n) return Status::Invalid(svc + " has two image: lines (" + LineRef(lines[image_line]) + ", " + LineRef(l) + ")");
    image_line = i;
  }
  if (image_line == n) {
    std::string msg = svc + " (" + LineRef(lines[found]) + ") has no image: line";
    if (has_merge) msg += " of its own (it comes from a `<<` merge; write image: in the service itself)";
    return Status::Error(Code::kNotFound, msg);
  }

  // 4. The value: 'single', "double" or plain, on this one line, then an optional comment.
  const Line& l = lines[image_line];
  std::string key;
  size_t after = 0;
  ParseKey(t, l, &key, &after);
  const std::string where = LineRef(l) + ": " + svc + ": image ";
  size_t i = SkipSpaces(t, after, l.end);
  if (i >= l.end || t[i] == '#') return Status::Invalid(where + "has no value on its line (block or multi-line values are not supported)");
  ImageSpan span;
  size_t rest = 0;
  char c = t[i];
  if (c == '\'' || c == '"') {
    span.begin = i + 1;
    size_t j = i + 1;
    for (; j < l.end; ++j) {
      if (c == '\'' && t[j] == '\'') {
        if (j + 1 < l.end && t[j + 1] == '\'') {
          span.value += '\'';
          ++j;
          continue;
        }
        break;
      }
      if (c == '"' && t[j] == '\\') return Status::Invalid(where + "uses escapes in a double-quoted value; write it without escapes");
      if (c == '"' && t[j] == '"') break;
      span.value += t[j];
    }
    if (j >= l.end) return Status::Invalid(where + "has a quoted value that does not end on its line");
    span.end = j;
    rest = j + 1;
  } else if (std::string("*&!|>[{@`%").find(c) != std::string::npos) {
    return Status::Invalid(where + "is not a plain scalar (starts with '" + std::string(1, c) +
                           "': alias, anchor, tag, block or flow value); write a plain image reference");
  } else {
    span.begin = i;
    size_t j = i;
    while (j < l.end && !(t[j] == '#' && (t[j - 1] == ' ' || t[j - 1] == '\t'))) ++j;
    size_t e = j;
    while (e > i && (t[e - 1] == ' ' || t[e - 1] == '\t')) --e;
    span.end = e;
    span.value = t.substr(i, e - i);
    rest = j;
  }
  rest = SkipSpaces(t, rest, l.end);
  if (rest < l.end && t[rest] != '#') return Status::Invalid(where + "has unexpected text after its value");
  // A deeper content line right after a plain value would be its continuation (multi-line scalar).
  for (size_t k = image_line + 1; k < n; ++k) {
    if (!lines[k].content) continue;
    if (lines[k].indent > prop_indent) return Status::Invalid(where + "continues on the next line; write it on one line");
    break;
  }
  return span;
}

// What yaml-cpp reads as services.<service>.image.
Result<std::string> ParsedImage(const std::string& text, const std::string& service) {
  try {
    const YAML::Node root = YAML::Load(text);
    const YAML::Node services = root["services"];
    if (!services || !services.IsMap()) return Status::Invalid("no services mapping after parsing");
    const YAML::Node svc = services[service];
    if (!svc || !svc.IsMap()) return Status::Invalid("service \"" + service + "\" is not a mapping after parsing");
    const YAML::Node image = svc["image"];
    if (!image || !image.IsScalar()) return Status::Invalid("service \"" + service + "\" has no scalar image after parsing");
    return image.as<std::string>();
  } catch (const YAML::Exception& e) {
    return Status::Invalid("does not parse as YAML: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

}  // namespace

bool IsValidImageReference(const std::string& s) {
  if (s.empty() || s.size() > 512) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '/' || c == ':' || c == '@' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return s.front() != '-' && s.front() != ':' && s.front() != '@';
}

Result<std::string> GetServiceImage(const std::string& text, const std::string& service) {
  SU_ASSIGN_OR_RETURN(ImageSpan span, LocateImage(text, service));
  // Cross-check: the scanner and the YAML parser must agree, or the scanner misread the layout.
  SU_ASSIGN_OR_RETURN(std::string parsed, ParsedImage(text, service));
  if (parsed != span.value) {
    return Status::Invalid("service \"" + service + "\": image read as \"" + span.value +
                           "\" by the line scanner but \"" + parsed + "\" by the YAML parser; unsupported layout");
  }
  return span.value;
}

Result<std::string> SetServiceImage(const std::string& text, const std::string& service,
                                    const std::string& new_image) {
  if (!IsValidImageReference(new_image)) {
    return Status::Invalid("service \"" + service + "\": \"" + new_image + "\" is not a valid image reference");
  }
  return SetServiceImageValue(text, service, new_image);
}

Result<std::string> SetServiceImageValue(const std::string& text, const std::string& service,
                                         const std::string& new_image) {
  bool ok = !new_image.empty() && new_image.size() <= 512;
  for (char c : new_image) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string("._/:@+-${}?").find(c) != std::string::npos);
  }
  if (!ok || new_image.front() == '-' || new_image.front() == ':' || new_image.front() == '@' ||
      new_image.front() == '{' || new_image.front() == '?') {
    return Status::Invalid("service \"" + service + "\": \"" + new_image + "\" is not a valid image value");
  }
  SU_ASSIGN_OR_RETURN(ImageSpan span, LocateImage(text, service));
  std::string out = text.substr(0, span.begin) + new_image + text.substr(span.end);
  Result<std::string> parsed = ParsedImage(out, service);
  if (!parsed.ok()) return parsed.status().WithContext("service \"" + service + "\": edited file failed validation");
  if (*parsed != new_image) {
    return Status::Invalid("service \"" + service + "\": edited file names image \"" + *parsed +
                           "\", not \"" + new_image + "\"; file left unchanged");
  }
  return out;
}

}  // namespace su
