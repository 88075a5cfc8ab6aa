// The `ory` engine: Kratos, Hydra (and any popx-based Ory service) migrate themselves, so this
// engine runs the *target* image's own migrator in a one-off container and watches the history
// table popx writes (`schema_migration`).
//
//  - Observe(): reads schema_migration (applied) and runs the status command in the target image
//    (pending, with names, in the image's order). Versions recorded in the database that the image
//    does not list go to `unknown`. Our side writes nothing; note that the *real* Ory status command
//    creates an empty schema_migration table when it is missing (popx does so), which is harmless.
//  - Apply(): the caller holds the migration lock (Ory's migrator takes none). Runs the status
//    command (for names and the expected list, best effort), reads schema_migration, runs the up
//    command, reads schema_migration again. The container's exit code decides success; the
//    before/after difference says exactly which versions this run added (RunReport.steps, one per
//    version, even when the run failed half way: popx commits each migration on its own).
//    Audit: one row for the container run (written before it starts, so a crash leaves it
//    "running" for MarkInterrupted; finished with the last output lines on failure), then one row
//    per added version, and one "failed" row for the version it stopped at when that is known.
//    A failed run is permanent (kFailed) unless retry_failed_runs (the runtime's RetriesFailedRuns:
//    Kubernetes Jobs) marks it RunReport::retry_with_backoff, and it did not time out.
//  - The migration container is named OryMigrationContainerName(ctx.resource) (podman generates one
//    when ctx.resource is empty). A controller killed while it runs leaves it running (podman does
//    not tie it to its client's life); the restarted controller's Apply then finds the name taken
//    and returns kLockBusy (nothing run, audit row "skipped") instead of starting a second migrator
//    beside the first, and the reconciler retries after its backoff until the leftover has finished
//    and been removed (--rm). The container runtime removes a leftover only once it has finished
//    (exited): one that exists but is not running *yet* (created by the killed controller's podman
//    client, which lives on and starts it a moment later) counts as running.
//  - The DSN goes to the container only through the environment (dsn_env, e.g. DSN), never argv,
//    or as a reference to its Secret (dsn_secret_name/key: a Kubernetes Job's secretKeyRef);
//    it is registered as a secret and every output line quoted in an error passes through Scrub().
//  - Durations per version are measured between the migrator's "Applying migration <version>"
//    lines when it prints them; otherwise 0 (the run's total is in the container's audit row).
//    ctx.on_migrator_start is called right before the up container starts (a rehearsal on a copy
//    times from there: reconcilers/rehearsal/migrator_recorder.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "reconcilers/engines/engine.h"
#include "reconcilers/runtimes/runtime.h"

namespace su {

struct OryEngineOptions {
  std::string image;                        // target image, e.g. oryd/kratos:v1.2.0
  // Full argv inside the container, program first, as manifests write it:
  // [kratos, migrate, sql, up, -e, --yes]. The program replaces the image's entrypoint. A command
  // that starts with "migrate" is passed as arguments to the image's own entrypoint instead.
  std::vector<std::string> up_command;
  std::vector<std::string> status_command;  // empty: DefaultOryStatusCommand(up_command)
  std::string dsn_env = "DSN";              // environment variable the migrator reads (-e)
  std::string dsn;
  // When set (Kubernetes: dsnFrom.secretKeyRef), the migrator reads the DSN from this Secret
  // (ContainerRunSpec::env_from_secret) and `dsn` (which the engine still uses to read the
  // history) is never handed to the container runtime.
  std::string dsn_secret_name;
  std::string dsn_secret_key;
  std::string history_table = "schema_migration";
  std::string audit_schema = "public";
  std::string network = "host";
  std::chrono::milliseconds run_timeout{0};  // 0: none (cancellation still applies)
  // A migrator that exits non-zero (not one that timed out) is reported with
  // RunReport::retry_with_backoff: the reconciler retries it with the policy's backoff up to
  // retries.limit times before it is permanent (Kubernetes Jobs). False: permanent at once.
  bool retry_failed_runs = false;
};

// The migration container's name for a resource (namespace/name): "su-migrate-<name>-<hash8>",
// a valid podman name, the same on every run.
std::string OryMigrationContainerName(const std::string& resource);
// "host:port/dbname" of a DSN (never the password), so containers of one resource name on two
// databases do not collide.
std::string DatabaseScope(const std::string& dsn);

// [kratos, migrate, sql, up, -e, --yes] -> [kratos, migrate, sql, status, -e]: the words before
// "up", then "status", keeping -e / --read-from-env and --config/-c with their values.
std::vector<std::string> DefaultOryStatusCommand(const std::vector<std::string>& up_command);

// rt must outlive the engine.
std::unique_ptr<Engine> NewOryEngine(ContainerRuntime* rt, OryEngineOptions options);
std::unique_ptr<Engine> NewOryEngine(ContainerRuntime* rt, std::string image, std::vector<std::string> up_command,
                                     std::vector<std::string> status_command, std::string dsn_env_name,
                                     std::string dsn);

}  // namespace su
