// What `schema-upgrade rollback --to V` means for a folder that uses expand/contract phases
// (docs/expand-contract.md "Rolling back by hand"): which applied migrations it would undo and in
// which phase each was, whether the upgrade's contract phase has run, which contract migrations
// lack a down file, and what data a contract migration removed that no down file brings back.
// Reads the folder's files only; nothing touches a database.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"
#include "reconcilers/engines/engine.h"

namespace su {

struct RollbackVictim {
  std::string version;
  std::string name;
  MigrationPhase phase = MigrationPhase::kExpand;
  bool has_down = false;
  // Contract migrations: what their up file removed for good, one sentence per statement
  // ("DROP TABLE legacy_sessions (line 3): its rows"): a down file recreates the shape, empty.
  std::vector<std::string> losses;
};

struct PhasedRollback {
  std::vector<RollbackVictim> victims;        // applied migrations newer than `to`, newest first
  std::vector<std::string> pending_contract;  // contract migrations not applied yet ("<version>_<name>")
  bool uses_phases = false;                   // any migration of the folder is phase=contract

  // Every migration to undo is an expand one and a contract migration is still pending: the
  // upgrade stopped between its phases, the old version runs on this schema as it is.
  bool BetweenExpandAndContract() const;
  bool UndoesContract() const;
  // Contract migrations among the victims without a .down.sql file ("<version>_<name>").
  std::vector<std::string> ContractWithoutDown() const;
};

// Applied migrations of `state` newer than `to` ("0": all), read against `folder`'s files for
// their phase directive, down file and (contract ones) data-losing statements. Errors: the folder
// does not read, or a directive is invalid (kInvalidArgument naming the file and line). An applied
// version missing from the folder is listed as an expand migration without a down file.
Result<PhasedRollback> PlanPhasedRollback(FileSystem* fs, const std::string& folder, const EngineState& state,
                                          const std::string& to);

}  // namespace su
