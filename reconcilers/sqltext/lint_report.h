// Lint findings for CI: SARIF 2.1.0 (GitHub code scanning, Azure DevOps, any SARIF viewer) and
// GitHub Actions workflow commands (`::warning file=F,line=N,title=T::message`, shown as
// annotations on the PR's diff). Pure functions over findings; no I/O.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/sqltext/lint.h"

namespace su {

struct LintReportOptions {
  std::string tool_version;  // the driver's semanticVersion
  // Absolute folder the finding paths are made relative to (the repository root in CI, else the
  // working directory). Relative paths are taken as relative to it already; absolute paths outside
  // it are written as file:// URIs.
  std::string base_dir;
};

// One SARIF log with one run: every rule of the catalogue in tool.driver.rules (id, description,
// the safe alternative as help, default level), one result per finding with ruleId/ruleIndex,
// level (warning|error), message and a physical location (uri relative to %SRCROOT%, startLine).
std::string RenderFindingsSarif(const std::vector<LintFinding>& findings, const LintReportOptions& options);

// One workflow command per finding: "::warning file=<path>,line=<n>,title=<rule>::<message>. Safer:
// <suggestion>" (::error for error-level findings), escaped as the Actions runner expects (%, CR,
// LF in the message; also ':' and ',' in properties).
std::string RenderFindingsGithub(const std::vector<LintFinding>& findings, const LintReportOptions& options);

// The path of a finding as written in reports: relative to base_dir when under it, without "./".
std::string ReportPath(const std::string& file, const std::string& base_dir);

}  // namespace su
