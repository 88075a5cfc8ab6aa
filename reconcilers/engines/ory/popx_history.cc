// popx schema_migration reads (see popx_history.h).
#include "reconcilers/engines/ory/popx_history.h"

#include <algorithm>
#include <iterator>

namespace su {

Result<std::vector<std::string>> ReadPopxVersions(Database* db, const std::string& table) {
  std::vector<std::string> out;
  auto exists = db->Query("SELECT to_regclass($1) IS NOT NULL", {QuoteQualified(table)});
  if (!exists.ok()) return exists.status().WithContext("looking for the history table " + table);
  if (exists->Get(0, 0) != "t") return out;
  auto r = db->Query("SELECT DISTINCT version FROM " + QuoteQualified(table) + " ORDER BY version");
  if (!r.ok()) return r.status().WithContext("reading the history table " + table);
  for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(r->Get(i, 0));
  // The server's collation decides ORDER BY; AddedVersions needs std::string order.
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> AddedVersions(const std::vector<std::string>& before, const std::vector<std::string>& after) {
  std::vector<std::string> added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(added));
  return added;
}

}  // namespace su
