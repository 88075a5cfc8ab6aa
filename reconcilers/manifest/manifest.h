// Loading SchemaUpgrade manifests from YAML (yaml-cpp stays inside this module).
// A file may hold several documents (---). Every field is validated; errors name the file, line
// and field path (e.g. "m.yaml:12: spec.policy.lockTimeout: ...") and say what was expected.
// Unknown fields are errors, with "did you mean ...?" when a known field is close.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"
#include "reconcilers/manifest/spec.h"

namespace su {

// Parses text (the content of `filename`). Relative paths in the manifest (migrations.path,
// workload.composeFile, dsnFrom.file, policy.backup.dir) are resolved against base_dir.
// Documents whose kind is not SchemaUpgrade are an error; empty documents are skipped.
Result<std::vector<SchemaUpgrade>> ParseManifests(const std::string& text, const std::string& filename,
                                                  const std::string& base_dir);

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
