// AdmitForKubernetes (see kube_admit.h).
#include "controller/cli/kube_admit.h"

namespace su {

// Deployments and StatefulSets are bumped by the Kubernetes runtime (reconcilers/runtimes/
// kubernetes/); a compose service is the Podman mode's.
Status AdmitForKubernetes(const SchemaUpgrade& su) {
  const std::string where = su.source_file + ": ";
  if (!su.workload.kind.empty() && su.workload.kind != "Deployment" && su.workload.kind != "StatefulSet") {
    return Status::Invalid(where + "spec.workload.kind: " + su.workload.kind +
                           " is a Podman compose service, which --kubernetes cannot bump: name a Deployment or "
                           "StatefulSet in the SchemaUpgrade's namespace, or run this resource with the Podman "
                           "mode (controller --manifests)");
  }
  if (su.migrations.engine == "ory" && su.dsn.kind != DsnSource::Kind::kSecretKeyRef) {
    return Status::Invalid(where + "spec.database.dsnFrom: engine ory runs the target image's migrator as a Job, "
                           "whose pod reads the DSN from a Secret (never written into the Job): use "
                           "dsnFrom.secretKeyRef {name, key} instead of dsnFrom.env or dsnFrom.file");
  }
  if (su.policy.backup_enabled) {
    if (su.policy.backup_pvc_claim.empty()) {
      return Status::Invalid(where + "spec.policy.backup.pvc: backups on Kubernetes are written by a Job (pg_dump -Fc "
                             "in the controller's image) to a PersistentVolumeClaim; set policy.backup.pvc.claimName "
                             "to a claim in the SchemaUpgrade's namespace (policy.backup.dir is the Podman mode's)");
    }
    if (su.dsn.kind != DsnSource::Kind::kSecretKeyRef) {
      return Status::Invalid(where + "spec.database.dsnFrom: policy.backup runs pg_dump as a Job, whose pod reads the "
                             "DSN from a Secret (never written into the Job): use dsnFrom.secretKeyRef {name, key}");
    }
  }
  return Status::Ok();
}

}  // namespace su
