// The engine factory of `controller --kubernetes`: sql and drizzle as everywhere, their files from
// spec.migrations.source (controller: the local folder; image: a folder-reading Job of the
// controller's image, remembered per image; configMap: the ConfigMap; kube_folder_reader.h); ory
// runs the target image's migrator as Kubernetes Jobs (runtimes/kubernetes/kube_job.h) through a
// Job runtime bound to the resource (its namespace, uid and workload), which the engine owns.
#pragma once

#include <chrono>

#include "kube/api.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/schemaupgrade/reconciler.h"

namespace su {

struct KubeEngineSettings {
  kube::KubeApi* api = nullptr;  // not owned
  FileSystem* fs = nullptr;
  std::chrono::seconds job_ttl{3600};        // --migration-job-ttl
  std::chrono::seconds job_deadline{3600};   // --migration-job-deadline
  std::string controller_image;              // --controller-image: runs __print-folder for source image
};

EngineFactory KubeEngineFactory(KubeEngineSettings settings);

}  // namespace su
