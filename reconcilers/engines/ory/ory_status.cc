// Parsing of Ory's migration status table (see ory_status.h).
#include "reconcilers/engines/ory/ory_status.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace su {
namespace {

std::string StripAnsi(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && !std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> w;
  std::istringstream in(line);
  std::string t;
  while (in >> t) w.push_back(t);
  return w;
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool IsState(const std::string& s) {
  return s == "Applied" || s == "Pending" || s == "Rollback" || s == "Missing";
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<std::vector<OryStatusRow>> ParseOryStatus(const std::string& output) {
  std::vector<OryStatusRow> rows;
  bool header = false;
  std::vector<std::string> seen;  // first non-empty lines, for the error message
  std::istringstream in(StripAnsi(output));
  std::string line;
  while (std::getline(in, line)) {
    auto w = Words(line);
    if (w.empty()) continue;
    if (seen.size() < 3) seen.push_back(line.substr(0, 120));
    if (w.size() == 3 && Lower(w[0]) == "version" && Lower(w[1]) == "name" && Lower(w[2]) == "status") {
      header = true;
      continue;
    }
    if (w.size() < 2 || !AllDigits(w.front()) || !IsState(w.back())) continue;
    OryStatusRow row;
    row.version = w.front();
    for (size_t i = 1; i + 1 < w.size(); ++i) row.name += (row.name.empty() ? "" : " ") + w[i];
    row.state = w.back();
    rows.push_back(std::move(row));
  }
  if (!header && rows.empty()) {
    std::string first;
    for (const auto& s : seen) first += (first.empty() ? "" : " | ") + s;
    return Status::Failed("the migration status output is not a \"Version Name Status\" table" +
                          (first.empty() ? std::string(" (it was empty)") : " (it began: " + first + ")"));
  }
  return rows;
}

}  // namespace su
