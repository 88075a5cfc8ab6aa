// MakeEngine: the engine a SchemaUpgrade's spec.migrations asks for.
#pragma once

#include <memory>
#include <string>

#include "api/spec.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/engines/engine.h"
#include "reconcilers/runtimes/runtime.h"

namespace su {

// sql and drizzle read spec.migrations.path through fs; ory runs target_image through rt (which
// may be null when the caller has no container runtime: then ory is an error saying so).
// kInvalidArgument for an unknown engine or missing field, naming the manifest.
Result<std::unique_ptr<Engine>> MakeEngine(const SchemaUpgrade& su, const std::string& dsn,
                                           const std::string& target_image, FileSystem* fs, ContainerRuntime* rt);

}  // namespace su
