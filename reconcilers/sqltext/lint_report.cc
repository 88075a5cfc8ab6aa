// SARIF 2.1.0 and GitHub workflow-command renderings of lint findings (see lint_report.h).
#include "reconcilers/sqltext/lint_report.h"

#include <cctype>
#include <sstream>

#include "reconcilers/base/json_text.h"
#include "reconcilers/sqltext/lint_rules.h"

namespace su {
namespace {

// Drops "./" segments and a trailing '/', so "a/./b" and "./a/b" read as "a/b".
std::string Normalize(const std::string& p) {
  std::string out;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string seg = p.substr(i, j - i);
    if (seg == "." || (seg.empty() && !out.empty())) {
      // skip
    } else if (out.empty() && seg.empty()) {
      out = "/";
    } else {
      if (!out.empty() && out.back() != '/') out += '/';
      out += seg;
    }
    i = j + 1;
  }
  return out;
}

// Percent-encodes what may not appear raw in a URI path (RFC 3986 pchar plus '/').
std::string UriPath(const std::string& p) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : p) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string_view("-._~/!$&'()*+,;=:@").find(static_cast<char>(c)) != std::string_view::npos;
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

const char* Level(LintSeverity s) { return s == LintSeverity::kError ? "error" : "warning"; }

// "create-index-without-concurrently" -> "CreateIndexWithoutConcurrently" (SARIF rule names are
// identifiers; the id stays the kebab-case one users pass to --disable).
std::string RuleName(std::string_view id) {
  std::string out;
  bool up = true;
  for (char c : id) {
    if (c == '-') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

std::string Sentence(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  if (!s.empty() && s.back() != '.') s += '.';
  return s;
}

// Workflow-command escaping (actions/toolkit's escapeData / escapeProperty).
std::string EscapeData(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else out += c;
  }
  return out;
}

std::string EscapeProperty(const std::string& s) {
  std::string out;
  for (char c : EscapeData(s)) {
    if (c == ':') out += "%3A";
    else if (c == ',') out += "%2C";
    else out += c;
  }
  return out;
}

}  // namespace

std::string ReportPath(const std::string& file, const std::string& base_dir) {
  std::string f = Normalize(file);
  if (f.empty() || f[0] != '/') return f;
  std::string base = Normalize(base_dir);
  if (base.empty() || base == "/") return f;
  if (f.size() > base.size() && f.compare(0, base.size(), base) == 0 && f[base.size()] == '/') {
    return f.substr(base.size() + 1);
  }
  return f;
}

std::string RenderFindingsSarif(const std::vector<LintFinding>& findings, const LintReportOptions& options) {
  const auto& rules = sqltext::AllLintRules();
  std::ostringstream o;
  o << "{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n";
  o << "  \"runs\": [\n    {\n      \"tool\": {\n        \"driver\": {\n";
  o << "          \"name\": \"schema-upgrade\",\n";
  o << "          \"fullName\": \"schema-upgrade lint (migration linter)\",\n";
  o << "          \"version\": " << JsonQuote(options.tool_version) << ",\n";
  o << "          \"semanticVersion\": " << JsonQuote(options.tool_version) << ",\n";
  o << "          \"rules\": [\n";
  for (size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    // SARIF1001: a name equal to the id (ignoring case, as the Multitool compares) is left out.
    std::string name = RuleName(r.id), lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    o << "            {\n              \"id\": " << JsonQuote(r.id) << ",\n";
    if (lower != r.id) o << "              \"name\": " << JsonQuote(name) << ",\n";
    o << "              \"shortDescription\": {\"text\": "
      << JsonQuote(Sentence(std::string(r.description))) << "},\n              \"fullDescription\": {\"text\": "
      << JsonQuote(Sentence(std::string(r.description))) << "},\n              \"help\": {\"text\": "
      << JsonQuote("Safer: " + Sentence(std::string(r.suggestion))) << "},\n"
      << "              \"defaultConfiguration\": {\"level\": \"" << Level(r.severity) << "\"}\n            }"
      << (i + 1 < rules.size() ? "," : "") << "\n";
  }
  o << "          ]\n        }\n      },\n";
  std::string base = Normalize(options.base_dir);
  if (!base.empty() && base[0] == '/') {
    o << "      \"originalUriBaseIds\": {\"SRCROOT\": {\"uri\": "
      << JsonQuote("file://" + UriPath(base == "/" ? base : base + "/")) << "}},\n";
  }
  o << "      \"results\": [";
  for (size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    size_t index = rules.size();
    for (size_t k = 0; k < rules.size(); ++k) {
      if (rules[k].id == f.rule) index = k;
    }
    std::string path = ReportPath(f.file, options.base_dir);
    bool absolute = !path.empty() && path[0] == '/';
    o << (i ? "," : "") << "\n        {\n          \"ruleId\": " << JsonQuote(f.rule) << ",\n";
    if (index < rules.size()) o << "          \"ruleIndex\": " << index << ",\n";
    o << "          \"level\": \"" << Level(f.severity) << "\",\n";
    o << "          \"message\": {\"text\": " << JsonQuote(Sentence(f.message) + " Safer: " + Sentence(f.suggestion))
      << "},\n";
    o << "          \"locations\": [\n            {\n              \"physicalLocation\": {\n"
      << "                \"artifactLocation\": {\"uri\": "
      << JsonQuote(absolute ? "file://" + UriPath(path) : UriPath(path))
      << (absolute || base.empty() || base[0] != '/' ? "" : ", \"uriBaseId\": \"SRCROOT\"") << "},\n"
      << "                \"region\": {\"startLine\": " << (f.line > 0 ? f.line : 1);
    if (!f.statement.empty()) o << ", \"snippet\": {\"text\": " << JsonQuote(f.statement) << "}";
    o << "}\n              }\n            }\n          ]\n        }";
  }
  o << (findings.empty() ? "" : "\n      ") << "],\n";
  o << "      \"columnKind\": \"utf16CodeUnits\"\n    }\n  ]\n}\n";
  return o.str();
}

std::string RenderFindingsGithub(const std::vector<LintFinding>& findings, const LintReportOptions& options) {
  std::string out;
  for (const auto& f : findings) {
    out += "::";
    out += Level(f.severity);
    out += " file=" + EscapeProperty(ReportPath(f.file, options.base_dir));
    out += ",line=" + std::to_string(f.line > 0 ? f.line : 1);
    out += ",title=" + EscapeProperty("schema-upgrade lint: " + f.rule);
    out += "::" + EscapeData(Sentence(f.message) + " Safer: " + Sentence(f.suggestion)) + "\n";
  }
  return out;
}

}  // namespace su
