// MakeEngine: the engine a SchemaUpgrade's spec.migrations asks for.
#pragma once

#include <memory>
#include <string>

#include "api/spec.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/engines/engine.h"
#include "reconcilers/runtimes/migration_folder.h"
#include "reconcilers/runtimes/runtime.h"

namespace su {

// sql and drizzle read spec.migrations.path through fs; ory runs target_image through rt (which
// may be null when the caller has no container runtime: then ory is an error saying so).
// kInvalidArgument for an unknown engine or missing field, naming the manifest.
Result<std::unique_ptr<Engine>> MakeEngine(const SchemaUpgrade& su, const std::string& dsn,
                                           const std::string& target_image, FileSystem* fs, ContainerRuntime* rt);

// sql / drizzle over files that came from an image or a ConfigMap: the engine reads them from
// memory under folder->origin (which plan and status show before each file name) and keeps the
// folder alive. Lint, locks and gates are those of MakeEngine: only where the bytes come from differs.
Result<std::unique_ptr<Engine>> MakeEngineFromFolder(const SchemaUpgrade& su,
                                                     std::shared_ptr<const MigrationFolder> folder);

// The engine su asks for, by spec.migrations.source: controller (and ory) as MakeEngine; image
// (su.migrations.path inside target_image) and configMap through reader. reader nullptr: image and
// configMap are kInvalidArgument naming spec.migrations.source.
Result<std::unique_ptr<Engine>> MakeEngineForSource(const SchemaUpgrade& su, const std::string& dsn,
                                                    const std::string& target_image, FileSystem* fs,
                                                    ContainerRuntime* rt, MigrationFolderReader* reader);

}  // namespace su
