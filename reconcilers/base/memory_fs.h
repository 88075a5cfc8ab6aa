// A read-only FileSystem over files held in memory under one root path: how the sql and drizzle
// engines read migrations that came from an image or a ConfigMap (runtimes/migration_folder.h)
// without writing them to the controller's disk. Stat gives stamps derived from the content (the
// observation cache and the file cache see "unchanged" exactly when the bytes are). Writes fail.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "reconcilers/base/fs.h"

namespace su {

// files: relative path ("a.sql", "meta/_journal.json") -> content, served under root ("root/a.sql").
// Thread-safe (immutable after construction).
std::unique_ptr<FileSystem> NewMemoryFileSystem(std::string root, std::map<std::string, std::string> files);

}  // namespace su
