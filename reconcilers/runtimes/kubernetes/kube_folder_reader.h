// spec.migrations.source image and configMap on Kubernetes (a MigrationFolderReader).
//
// image: a short Job (kube_job.h: hash-named, adopted after a restart, owned by the SchemaUpgrade,
//   restricted Pod Security, TTL) whose init container, the target image, copies
//   spec.migrations.path into an emptyDir with the image's own `sh -c 'cp -R'`, and whose
//   container, the controller's own image (controller_image), runs the hidden
//   `schema-upgrade __print-folder --engine E DIR`, which prints the engine's files as framed JSON
//   (migration_folder.h). The controller reads that from the pod's log, checks its length and
//   SHA-256 (a rotated or cut log is an error, never fewer files) and then migrates itself with
//   its pooled session, locks, lint and gates, exactly as for source controller: the Job only
//   reads files; nothing with database access runs in it.
// configMap: GET the ConfigMap in the SchemaUpgrade's namespace; each data (and binaryData) key
//   is a file; for drizzle the key "_journal.json" is meta/_journal.json (a key has no '/'), so
//   `kubectl create configmap NAME --from-file=drizzle/ --from-file=drizzle/meta/_journal.json`
//   makes one. Over the 1 MiB limit, a missing ConfigMap or a missing configMapRef.keys entry is
//   kInvalidArgument naming the ConfigMap (and the size).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "kube/api.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/runtimes/migration_folder.h"

namespace su {

inline const kube::GroupVersionResource kConfigMaps{"", "v1", "configmaps", true};

// The folder-reading Job's container mounts the copied folder here.
inline constexpr const char* kFolderJobMount = "/su-folder";

struct KubeFolderReaderOptions {
  kube::KubeApi* api = nullptr;  // required; not owned
  Clock* clock = nullptr;        // nullptr: RealClock()
  // The image whose entrypoint is schema-upgrade (--controller-image). Empty: source image is
  // refused with a message naming the flag.
  std::string controller_image;
  std::chrono::seconds job_ttl{3600};
  std::chrono::seconds job_deadline{600};
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::seconds start_grace{120};
};

std::unique_ptr<MigrationFolderReader> NewKubeFolderReader(KubeFolderReaderOptions options);

// The image of the controller's own container in pod ns/pod (listed with a field selector: the
// RBAC has list on pods, not get): the container named "controller" or "manager", else the first.
// "" when the pod cannot be read.
std::string OwnPodImage(kube::KubeApi* api, const std::string& ns, const std::string& pod);

// Decodes the `__print-folder` output found in log (other lines around it are ignored).
// kFailed naming `what` when the frame is missing, cut (fewer bytes than announced) or its hash
// differs; kInvalidArgument for paths that are not migration files of engine.
Result<MigrationFolder> DecodeMigrationFolder(const std::string& log, const std::string& engine,
                                              const std::string& what);

}  // namespace su
