// Podman implementations of the runtime edges (runtime.h): PodmanContainerRuntime runs one-off
// containers (`podman run --rm`), ComposeWorkloadRuntime bumps and observes a podman-compose service.
// Every podman / podman-compose call goes through the given ProcessRunner with argv arrays.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "reconcilers/runtimes/runtime.h"

namespace su {

struct PodmanConfig {
  // Added to the environment of every podman / podman-compose process (e.g. CONTAINERS_CONF).
  std::map<std::string, std::string> env;
  std::string podman = "podman";
  std::string podman_compose = "podman-compose";
  // `podman run --pull` policy for RunOnce: missing | never | always | newer. "never" also stops
  // Rollout from pulling a missing declared image.
  std::string pull = "missing";
  // Grace period given to the old container when Rollout replaces it (then SIGKILL).
  std::chrono::seconds stop_timeout{10};
  // Bound on each podman / podman-compose housekeeping command (not on RunOnce: its spec decides).
  std::chrono::milliseconds command_timeout{300000};
  // Longest wait for the compose file's edit lock (file_lock.h), which a bump holds while it edits
  // and a rollout while podman-compose reads the file and starts the container. kTimeout after it.
  std::chrono::milliseconds file_lock_wait{120000};
  FileSystem* fs = nullptr;  // nullptr: LocalFileSystem()
};

// ---- ContainerRuntime -------------------------------------------------------------------------

// The argv RunOnce executes for spec with the given container name:
//   podman run --rm --network N --pull P --name NAME [--entrypoint E0] [--env K ...] IMAGE [E1..] ARGS
// Entry point words after the first go before args (docker's semantics for an exec-form entrypoint).
// Env values are never in it: only names; the values travel in the podman process's environment.
// kInvalidArgument for an empty image, a bad env name, or an env name podman itself depends on
// (PATH, HOME, TMPDIR, LD_*, CONTAINERS_*, XDG_*, REGISTRY_AUTH_FILE): setting those for the
// container would change the podman process's own environment too.
Result<std::vector<std::string>> BuildRunArgv(const ContainerRunSpec& spec, const PodmanConfig& config,
                                              const std::string& container_name);

// runner is not owned and must outlive the runtime.
std::unique_ptr<ContainerRuntime> NewPodmanContainerRuntime(ProcessRunner* runner, PodmanConfig config = {});
// Shorthand: default config plus extra env (e.g. {{"CONTAINERS_CONF", path}}).
std::unique_ptr<ContainerRuntime> NewPodmanContainerRuntime(ProcessRunner* runner,
                                                            std::map<std::string, std::string> extra_env);

// ---- WorkloadRuntime (WorkloadRef kind ComposeService) ----------------------------------------
//
// DeclaredImage / SetDeclaredImage edit the compose file through compose_edit.h (atomic write, then
// re-read and check). An `image:` written with compose interpolation (`${VAR:-default}`) is resolved
// as podman-compose resolves it (the compose folder's .env, then config.env, then our environment)
// and bumped keeping its variables (compose_interp.h). PreflightBump does the whole edit in memory.
// Edits of one compose file are serialised (FileLock: threads and processes),
// and under the lock SetDeclaredImage re-reads the file, refuses (kConflict) when the service no
// longer declares the image the caller planned from, and re-reads once more just before replacing
// the file: a file changed by an outside editor since it was read is edited again from its new
// text (up to 5 times, then kConflict), never overwritten with the stale copy. What is left is the
// moment between that last read and the rename, which no lock can close against editors that do
// not take it. The container is the service's `container_name`, else podman-compose's
// `<project>_<service>_1` (project: the compose file's folder name, lowercased, [-_a-z0-9] only).
//
// Rollout(w, image), for Debian's podman-compose 1.0.3: a plain `up -d SERVICE` restarts the *existing*
// container with its old image (1.0.3 has no config-hash check), `--force-recreate` runs `down` on
// the service *and its dependencies* (it would recreate the database), and `--no-deps` is parsed but
// ignored by `up`. So Rollout (1) makes sure the declared image exists locally (pulling it if not,
// unless pull is "never"),
// leaving the old container untouched when it cannot; then, holding the compose file's lock until
// the container exists (so no cooperating editor changes the file before podman-compose reads it),
// checks that the file still declares `image` (kConflict and nothing touched when not); (2) removes only this service's container
// (`podman rm -f -t stop_timeout`); (3) runs `podman-compose -f FILE up -d --no-deps SERVICE`, where
// dependencies that already exist are only `podman start`ed (a no-op when running); (4) checks the
// container now exists, because podman-compose 1.0.3 exits 0 even when `podman run` failed, and
// runs `image` (kConflict when an outside edit slipped in before podman-compose read the file).
//
// Observe: `podman inspect`. Podman drives health checks from systemd timers; without systemd
// (containers, CI) they never run and the status stays "starting", so when the container has a
// health check and runs, Observe runs it once (`podman healthcheck run`) before reading the status.
std::unique_ptr<WorkloadRuntime> NewComposeWorkloadRuntime(ProcessRunner* runner, PodmanConfig config = {});

// The container podman-compose creates for the service of w (reads the compose file).
Result<std::string> ComposeContainerName(FileSystem* fs, const WorkloadRef& w);

// Parses `podman inspect` JSON output (an array with one object) into a WorkloadStatus.
// Also reports whether the container has a health check configured.
Result<WorkloadStatus> ParseInspect(const std::string& json, bool* has_healthcheck);

}  // namespace su
