// The linter's rule catalogue: id, severity, one-line description and the safe alternative.
// Internal to su_sqltext; lint.h exposes it through LintRules().
#pragma once

#include <string_view>
#include <vector>

#include "reconcilers/sqltext/lint.h"

namespace su::sqltext {

struct LintRule {
  std::string_view id;
  LintSeverity severity;
  std::string_view description;
  std::string_view suggestion;
};

const std::vector<LintRule>& AllLintRules();
// nullptr for an unknown id.
const LintRule* FindLintRule(std::string_view id);

}  // namespace su::sqltext
