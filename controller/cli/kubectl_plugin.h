// The binary as a kubectl plugin: installed (a symlink) as `kubectl-schema_upgrade`, kubectl finds
// it on PATH and runs `kubectl schema-upgrade <command>` as `kubectl-schema_upgrade <command>`.
// `status` prints a summary per SchemaUpgrade (RenderStatusSummary); on Podman hosts it reads the
// state folder (--state-dir, $SU_STATE_DIR or ./.state), with --kubernetes the status subresources
// through the API (kube_status_source.h). Every other command is the normal CLI's.
#pragma once

#include <string>
#include <vector>

namespace su {

// True when argv[0]'s file name is kubectl-schema_upgrade (how kubectl runs plugins).
bool InvokedAsKubectlPlugin(const char* argv0);

// args: what kubectl passes after the plugin name. Returns the exit code.
int RunKubectlPlugin(const std::vector<std::string>& args, int (*run_cli)(const std::vector<std::string>&));

}  // namespace su
