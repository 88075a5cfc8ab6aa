// StatusStore: where ResourceStatus lives between passes and across restarts.
// Podman mode uses a state directory (one JSON file per resource, replaced atomically), chosen
// over a table in the target database because status must be writable when the database is
// down or the DSN is wrong (that is exactly when an operator needs to read it), and because one
// controller may serve resources in several databases. Kubernetes mode writes the status
// subresource instead.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"
#include "reconcilers/schemaupgrade/status_json.h"

namespace su {

class StatusStore {
 public:
  virtual ~StatusStore() = default;
  // nullopt when nothing was stored for key yet.
  virtual Result<std::optional<ResourceStatus>> Load(const std::string& key) = 0;
  virtual Status Save(const std::string& key, const ResourceStatus& status) = 0;
  virtual Result<std::map<std::string, ResourceStatus>> List() = 0;
};

// <dir>/<namespace>__<name>.json, written with WriteFileAtomic. Thread-safe per key.
std::unique_ptr<StatusStore> NewDirStatusStore(FileSystem* fs, std::string dir);

// In-memory store for tests.
std::unique_ptr<StatusStore> NewMemoryStatusStore();

}  // namespace su
