// Parsing of `<ory binary> migrate sql status` output (Kratos, Hydra, Keto: popx's table, printed
// by cmdx.PrintTable with tab padding, or popx's space-padded plan table). Tolerant of log lines
// mixed into the output (JSON or logfmt), CRLF and ANSI colours: a row is a line whose first word
// is a popx version (digits) and whose last word is a state (Applied, Pending, ...).
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

struct OryStatusRow {
  std::string version;
  std::string name;   // may be empty
  std::string state;  // as printed: Applied | Pending (others, e.g. Rollback, are kept verbatim)
  bool applied() const { return state == "Applied"; }
  bool pending() const { return state == "Pending"; }
};

// Rows in printed order. Fails (kFailed, naming the first lines seen) when the output holds
// neither the "Version Name Status" header nor any row: that is not a status listing.
Result<std::vector<OryStatusRow>> ParseOryStatus(const std::string& output);

}  // namespace su
