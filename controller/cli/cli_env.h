// CliEnv: the real implementations behind every edge (PostgreSQL, podman, files, clock), wired
// into ReconcilerDeps for the CLI commands and the controller. Tests build their own deps.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/spec.h"
#include "reconcilers/runtimes/migration_folder.h"
#include "reconcilers/runtimes/runtime.h"
#include "reconcilers/schemaupgrade/reconciler.h"
#include "reconcilers/schemaupgrade/status_store.h"

namespace su {

struct CliEnvOptions {
  std::string state_dir;        // status files and default backups; default $SU_STATE_DIR or ./.state
  std::string compose_file;     // default compose file for ComposeService workloads without one
  bool progress = true;         // print migration progress on stderr
};

struct CliEnv {
  std::string state_dir;
  std::string compose_file;
  std::unique_ptr<StatusStore> store;
  std::unique_ptr<BackupTool> backup;
  std::unique_ptr<ContainerRuntime> containers;
  std::unique_ptr<MigrationFolderReader> folders;  // migrations.source image (Podman: podman cp)
  std::unique_ptr<WorkloadRuntime> workloads;
  ReconcilerDeps deps;
};

std::unique_ptr<CliEnv> MakeCliEnv(const CliEnvOptions& options);

// Bad input (kInvalidArgument naming the folder) when the state dir (--state-dir or
// $SU_STATE_DIR) is not a folder or its status folder cannot be created. Creates it otherwise.
Status CheckStateDir(const std::string& state_dir);

// Applies CLI-level defaults to a loaded resource (e.g. --compose for ComposeService workloads).
void ApplyCliDefaults(const CliEnv& env, SchemaUpgrade* su);

// Loads resources from -f files/folders; keeps only `name` when given. Errors name the file.
Result<std::vector<SchemaUpgrade>> LoadResources(const std::vector<std::string>& paths, const std::string& name);

}  // namespace su
