// Backups on Kubernetes (policy.backup.pvc): a BackupTool per resource whose dump and restore run
// as Jobs of the controller's own image (the hidden `backup-job` subcommand, backup_job.h) through
// the migration Job machinery (reconcilers/runtimes/kubernetes/kube_job.h: hash-named, adopted
// after a restart, restricted Pod Security, TTL, a failed pod's log in the error), with the claim
// mounted at /backup and the DSN only as env valueFrom.secretKeyRef from spec.database.dsnFrom.
//
// Backups are recorded as "pvc://<claim>/<subPath>/<ns>_<name>_<plan hash>_<UTC stamp>.dump"
// (BackupTool::RemoteFolder "pvc://<claim>/<subPath>"); a restore mounts the claim the record
// names (so it works after the spec's claim changed). Retention runs in the dump Job.
// Before a Job starts, the claim is read (get persistentvolumeclaims): missing is kNotFound naming
// the claim and the field; a pod waiting for a missing claim would otherwise wait until its deadline.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "kube/api.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/runtimes/runtime.h"
#include "reconcilers/schemaupgrade/reconciler.h"

namespace su {

struct KubeBackupSettings {
  kube::KubeApi* api = nullptr;  // not owned
  Clock* clock = nullptr;        // nullptr: RealClock()
  std::string image;             // the controller's own image (--controller-image)
  std::chrono::seconds job_ttl{3600};
  std::chrono::seconds job_deadline{3600};
  std::chrono::milliseconds poll_interval{1000};
  // Stop waiting for a Job (shutdown, lost lease): kCancelled; the Job runs on, and a restore
  // (same arguments, same Job name) is adopted by the next run. Empty: never.
  std::function<bool()> cancelled;
};

// "pvc://<claim>[/<subPath>]" for the resource's policy.
std::string BackupClaimFolder(const SchemaUpgrade& su);
// Splits "pvc://<claim>/<path in the claim>"; kInvalidArgument for anything else.
Result<std::pair<std::string, std::string>> SplitClaimPath(const std::string& path);

// The Job's run: the controller image with `backup-job dump --file /backup/<path in claim>` (and
// --retention/--prefix when policy.backup.retention is set), the claim mounted at /backup, the DSN
// from the resource's Secret. kInvalidArgument when the resource's DSN is not a secretKeyRef.
Result<ContainerRunSpec> BackupDumpRun(const SchemaUpgrade& su, const std::string& image, const std::string& path);
Result<ContainerRunSpec> BackupRestoreRun(const SchemaUpgrade& su, const std::string& image, const std::string& path,
                                          const RestoreOptions& options);

// The factory for ReconcilerDeps::make_backup. It refuses (kInvalidArgument) a resource without
// backup.pvc, and every resource when settings.image is empty (naming --controller-image).
BackupToolFactory KubeBackupFactory(KubeBackupSettings settings);

}  // namespace su
