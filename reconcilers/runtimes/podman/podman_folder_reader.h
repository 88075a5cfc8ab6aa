// spec.migrations.source image in the Podman mode: the folder is copied out of the target image
// without running it (`podman create --pull <policy>`, `podman cp`, `podman rm -f`, argv arrays;
// the container and the scratch folder are removed on every path), then read like a local folder.
// source configMap has no ConfigMaps to read here: kInvalidArgument naming the field (a YAML file
// standing in for a ConfigMap would be a second format for the same files; a folder already is
// one: source controller).
#pragma once

#include <memory>

#include "reconcilers/base/process.h"
#include "reconcilers/runtimes/migration_folder.h"
#include "reconcilers/runtimes/podman/podman.h"

namespace su {

std::unique_ptr<MigrationFolderReader> NewPodmanFolderReader(ProcessRunner* runner, PodmanConfig config);

}  // namespace su
