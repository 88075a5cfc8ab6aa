// Reads popx's history table (`schema_migration(version VARCHAR(48), version_self INT)`, one row
// per applied migration), which Kratos and Hydra write themselves. Read-only: a database where the
// table does not exist yet has no applied versions.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"

namespace su {

// Distinct versions, ascending. table: as popx names it, resolved through the session's
// search_path like popx does ("schema_migration"), or schema-qualified ("auth.schema_migration").
Result<std::vector<std::string>> ReadPopxVersions(Database* db, const std::string& table = "schema_migration");

// Versions in `after` that are not in `before`, ascending (both ascending).
std::vector<std::string> AddedVersions(const std::vector<std::string>& before, const std::vector<std::string>& after);

}  // namespace su
