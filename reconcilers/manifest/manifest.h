// Loading SchemaUpgrade manifests from YAML (yaml-cpp stays inside this module).
// A file may hold several documents (---). Every field is validated; errors name the file, line
// and field path (e.g. "m.yaml:12: spec.policy.lockTimeout: ...") and say what was expected.
// Unknown fields are errors, with "did you mean ...?" when a known field is close.
//
// Decisions (the rules a manifest author needs beyond the field list in api/spec.h):
//  - apiVersion olympus.io/v1alpha1, kind SchemaUpgrade. `status` is ignored if present, and so
//    are metadata fields a Kubernetes API server sets (uid, resourceVersion, managedFields, ...).
//  - metadata.name: DNS-1123 label (required); metadata.namespace: DNS-1123 label, default
//    "default"; metadata.generation: integer >= 1, default 1 (a file has no generation counter:
//    SchemaUpgrade::spec_hash is what tells a changed spec apart).
//  - spec.service defaults to metadata.name. spec.targetVersion is required and must be a valid
//    image tag (it is the tag of the default image).
//  - spec.database.dsnFrom: exactly one of env (a variable *name*), file, secretKeyRef.
//  - spec.migrations.engine: ory | drizzle | sql. sql and drizzle require path; command and
//    statusCommand are for ory only. ory's command defaults to [migrate, sql, up, -e, --yes]
//    (arguments to the target image's entrypoint, e.g. kratos); statusCommand stays empty unless
//    given, and the ory engine derives it from command (one rule, kept with the engine that knows
//    Ory's flags). ory with neither spec.image nor spec.workload is an error (nothing to run the
//    migrator from). sql's schema defaults to "public".
//  - spec.workload is optional (no workload: plan/apply migrations only, no bump). kind
//    Deployment | StatefulSet | ComposeService; name required; ComposeService requires
//    composeFile, service defaults to name, and container is for Kubernetes kinds only.
//  - Durations as in base/duration.h; maintenanceWindow start/end "HH:MM" (24 h, end < start
//    wraps past midnight, equal is an error), timeZone default UTC, days Mon..Sun (full names
//    accepted, stored as Mon..Sun); retries.limit >= 0; backoff initial <= max.
//  - policy.onFailure: halt | rollbackImage (needs a workload) | restoreBackup (needs
//    backup.enabled) | runDown (engine sql only).
//  - Booleans and integers must be unquoted YAML scalars: dryRun: "true" is an error.
//  - A null value (`key:` or `key: ~`) counts as the field not being set; a key given twice is
//    an error.
//  - Approval: policy.approval.planHash, else the annotation olympus.io/approved-plan-hash; the
//    spec field wins when both are set (it is the reviewed place).
//  - Errors never quote free-text values (only enum-like ones), so a DSN pasted into the wrong
//    field is never echoed; all errors of a file are reported, one per line.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/spec.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"

namespace su {

// Parses text (the content of `filename`). Relative paths in the manifest (migrations.path,
// workload.composeFile, dsnFrom.file, policy.backup.dir) are resolved against base_dir.
// Documents whose kind is not SchemaUpgrade are an error; empty documents are skipped.
Result<std::vector<SchemaUpgrade>> ParseManifests(const std::string& text, const std::string& filename,
                                                  const std::string& base_dir);

// Parses one object read from the Kubernetes API (its JSON; JSON is YAML) with the same rules, so
// errors name the same fields. Errors read "<origin>: spec.x: ..." (no line: the JSON has none a
// person could look up); origin names the object, e.g. `SchemaUpgrade ciam/kratos`. Relative paths
// resolve against base_dir (the controller's working directory). The API server's metadata (uid,
// resourceVersion, managedFields, ...) is accepted and ignored; metadata.generation is kept.
Result<SchemaUpgrade> ParseResourceObject(const std::string& json, const std::string& origin,
                                          const std::string& base_dir);

// Where a resource came from, for error messages: "file:line", or the origin alone for an object
// read from an API (source_line 0).
std::string SourceOf(const SchemaUpgrade& su);

// Reads and parses one file (base_dir = the file's folder).
Result<std::vector<SchemaUpgrade>> LoadManifestFile(FileSystem* fs, const std::string& path);

// Loads every *.yaml / *.yml file of a folder, sorted by name. Two resources with the same
// namespace/name are an error naming both files.
Result<std::vector<SchemaUpgrade>> LoadManifestDir(FileSystem* fs, const std::string& dir);

// Reads the DSN from the resource's source (env var or file; secretKeyRef is resolved by the
// Kubernetes adapter and is an error here). The value is registered with RegisterDsnSecrets and
// must never be printed. getenv is injectable for tests.
Result<std::string> ResolveDsn(const SchemaUpgrade& su, FileSystem* fs,
                               const std::function<const char*(const char*)>& getenv_fn);

}  // namespace su
