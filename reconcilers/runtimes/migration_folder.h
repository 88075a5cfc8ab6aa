// Migration files that do not live on the controller's file system (spec.migrations.source image
// or configMap): the files as values (MigrationFolder), the reader that fetches them
// (MigrationFolderReader: a Kubernetes Job or `podman cp` for image, a ConfigMap GET), and the
// framed JSON the controller image's hidden `__print-folder` subcommand prints in a folder-reading
// Job (EncodeMigrationFolder; decoded by runtimes/kubernetes).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "api/spec.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"

namespace su {

// The files an engine reads, by path relative to the folder ("0001_x.sql", "meta/_journal.json").
struct MigrationFolder {
  // Where they came from, as a path-like root the engines and plan show before each file name:
  // "image:<image>:<path>" or "configMap:<namespace>/<name>".
  std::string origin;
  std::map<std::string, std::string> files;
  size_t bytes = 0;  // sum of the contents' sizes
};

// The largest folder a Job prints (the framed JSON, base64 included): well below the 10 MiB at
// which the kubelet rotates a container log by default (containerLogMaxSize), so one log read
// holds all of it. A bigger folder is refused with a message saying so, never cut.
inline constexpr size_t kMaxPrintedFolderBytes = 4u * 1024 * 1024;
// The size limit of one ConfigMap (data and binaryData together), as the API server enforces it.
inline constexpr size_t kConfigMapLimitBytes = 1024u * 1024;

// Whether the engine reads the file at rel: top-level *.sql for both engines, and drizzle's
// meta/_journal.json. Snapshots and READMEs are left out (a drizzle snapshot can be far larger
// than the migrations).
bool IsMigrationFileFor(const std::string& engine, const std::string& rel);

// The engine's files in dir on fs (regular files, symlinks followed). kInvalidArgument naming the
// folder when it is missing, or when the files together exceed max_bytes (0: no limit).
Result<MigrationFolder> ReadLocalMigrationFolder(FileSystem* fs, const std::string& dir, const std::string& engine,
                                                 size_t max_bytes = 0);

// The folder as the `__print-folder` output: a begin line "schema-upgrade-folder v1 <bytes>
// <sha256>", the JSON {"origin":..,"files":[{"path":..,"base64":..}]} of exactly <bytes> bytes
// with that sha256, and an end line "schema-upgrade-folder end". The reader checks length and
// hash, so a cut or rotated log is an error, never a shorter folder.
std::string EncodeMigrationFolder(const MigrationFolder& folder);

// Fetches the files of a SchemaUpgrade whose migrations.source is image or configMap.
class MigrationFolderReader {
 public:
  virtual ~MigrationFolderReader() = default;
  // source image: the engine's files of su.migrations.path inside image (the target image).
  // Errors: kInvalidArgument (path missing in the image, too big, no tool to read it: the message
  // says what to change), kNotFound (the image cannot be pulled), kUnavailable (retry later).
  virtual Result<std::shared_ptr<const MigrationFolder>> FromImage(const SchemaUpgrade& su,
                                                                   const std::string& image) = 0;
  // source configMap: the ConfigMap's data keys (drizzle's "_journal.json" key is meta/_journal.json).
  // Errors: kInvalidArgument (missing ConfigMap or key, over the limit, or a mode without
  // ConfigMaps: the message names spec.migrations.source), kUnavailable.
  virtual Result<std::shared_ptr<const MigrationFolder>> FromConfigMap(const SchemaUpgrade& su) = 0;
};

// A reader that remembers what inner read from each image (by image reference and path, so a
// pass over a resource at its target starts no Job and no container); ConfigMaps are read each
// time (they change without a new name). Keeps the `capacity` most recently used folders.
// Thread-safe; two workers asking for one image at once may both read it.
std::unique_ptr<MigrationFolderReader> NewCachingFolderReader(std::unique_ptr<MigrationFolderReader> inner,
                                                              size_t capacity = 32);

}  // namespace su
