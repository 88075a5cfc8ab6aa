// What `controller --kubernetes` cannot do with a SchemaUpgrade, checked before anything changes:
// the resource goes Stalled with InvalidSpec and a message naming the field.
#pragma once

#include "api/spec.h"
#include "reconcilers/base/result.h"

namespace su {

// kInvalidArgument (naming file and field) for: a workload that is not a Deployment or
// StatefulSet; engine ory or policy.backup without dsnFrom.secretKeyRef (their Jobs read the DSN
// from the Secret); policy.backup without pvc (spec.policy.backup.pvc: where the Job writes).
Status AdmitForKubernetes(const SchemaUpgrade& su);

}  // namespace su
