// See rollback_phases.h.
#include "reconcilers/engines/sql/rollback_phases.h"

#include <cctype>
#include <map>

#include "reconcilers/engines/sql/sql_folder.h"
#include "reconcilers/sqltext/lint.h"
#include "reconcilers/sqltext/statement.h"

namespace su {
namespace {

// Lint rules whose statement removes data for good (a rename or a NOT NULL does not).
bool LosesData(const std::string& rule) { return rule == "drop-column" || rule == "drop-table" || rule == "truncate"; }

// The text with its `-- schema-upgrade: lint-ignore` lines blanked (line numbers kept): a contract
// file often silences drop-column, yet the data it drops is exactly what must be named here.
std::string WithoutLintIgnores(const std::string& sql) {
  std::string out;
  size_t start = 0;
  while (start <= sql.size()) {
    size_t end = sql.find('\n', start);
    std::string line = sql.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string lower;
    for (char c : line) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t first = lower.find_first_not_of(" \t");
    if (first != std::string::npos && lower.compare(first, 2, "--") == 0 && lower.find("lint-ignore") != std::string::npos) {
      line = "--";
    }
    out += line;
    if (end == std::string::npos) break;
    out += '\n';
    start = end + 1;
  }
  return out;
}

}  // namespace

bool PhasedRollback::BetweenExpandAndContract() const {
  if (victims.empty() || pending_contract.empty()) return false;
  for (const auto& v : victims) {
    if (v.phase != MigrationPhase::kExpand) return false;
  }
  return true;
}

bool PhasedRollback::UndoesContract() const {
  for (const auto& v : victims) {
    if (v.phase == MigrationPhase::kContract) return true;
  }
  return false;
}

std::vector<std::string> PhasedRollback::ContractWithoutDown() const {
  std::vector<std::string> out;
  for (const auto& v : victims) {
    if (v.phase == MigrationPhase::kContract && !v.has_down) out.push_back(v.version + "_" + v.name);
  }
  return out;
}

Result<PhasedRollback> PlanPhasedRollback(FileSystem* fs, const std::string& folder, const EngineState& state,
                                          const std::string& to) {
  SU_ASSIGN_OR_RETURN(auto files, ReadSqlFolder(fs, folder));
  struct FileFacts {
    MigrationPhase phase = MigrationPhase::kExpand;
    const SqlMigrationFile* file = nullptr;
  };
  std::map<std::string, FileFacts> by_version;  // keyed by the numeric value (leading zeros dropped)
  auto key = [](const std::string& v) {
    size_t i = v.find_first_not_of('0');
    return i == std::string::npos ? std::string("0") : v.substr(i);
  };
  PhasedRollback out;
  for (const auto& f : files) {
    SU_ASSIGN_OR_RETURN(auto directives, ReadMigrationDirectives(f.up_path, f.up_sql));
    SU_ASSIGN_OR_RETURN(auto phase, MigrationPhaseOf(f.up_path, directives));
    by_version[key(f.version)] = {phase, &f};
    out.uses_phases |= phase == MigrationPhase::kContract;
  }
  for (const auto& p : state.pending) {
    auto it = by_version.find(key(p.version));
    if (it != by_version.end() && it->second.phase == MigrationPhase::kContract) {
      out.pending_contract.push_back(p.version + "_" + p.name);
    }
  }
  for (auto it = state.applied.rbegin(); it != state.applied.rend(); ++it) {
    if (to != "0" && CompareVersions(it->version, to) <= 0) continue;
    RollbackVictim v;
    v.version = it->version;
    v.name = it->name;
    auto f = by_version.find(key(it->version));
    if (f != by_version.end()) {
      v.phase = f->second.phase;
      v.has_down = !f->second.file->down_path.empty();
      if (v.phase == MigrationPhase::kContract) {
        LintOptions o;
        o.in_transaction = !HasNoTransactionMarker(f->second.file->up_sql);
        auto findings = LintSql(f->second.file->up_path, WithoutLintIgnores(f->second.file->up_sql), o);
        if (!findings.ok()) return findings.status().WithContext(f->second.file->up_path);
        for (const auto& finding : *findings) {
          if (!LosesData(finding.rule)) continue;
          v.losses.push_back(finding.statement + " (line " + std::to_string(finding.line) + "): " +
                             (finding.rule == "drop-column" ? "that column's values"
                                                            : finding.rule == "drop-table" ? "that table's rows"
                                                                                           : "the rows it emptied"));
        }
      }
    }
    out.victims.push_back(std::move(v));
  }
  return out;
}

}  // namespace su
