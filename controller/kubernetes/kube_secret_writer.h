// The SecretWriter (reconcilers/schemaupgrade/secret_writer.h) of `controller --kubernetes`: Secrets
// the controller makes in a SchemaUpgrade's namespace (the ory rehearsal's copy DSN), the writing
// side of kube_secret_resolver.h.
//
// Put creates an Opaque Secret {name, data {key: base64(value)}} with the labels of the migration
// Jobs (app.kubernetes.io/managed-by=schema-upgrade-operator, olympus.io/schemaupgrade=<name>,
// olympus.io/schemaupgrade-uid=<uid>), the annotation olympus.io/resource=<namespace>/<name>, and an
// ownerReference to the SchemaUpgrade (no blockOwnerDeletion, as the Jobs: it needs more RBAC). A
// Secret of that name already there is replaced when it is this resource's (the annotation and
// managed-by label say so: a leftover of a killed pass): deleted with a uid precondition, then
// created again. So the RBAC verbs are get, create and delete; never update, list or watch.
// Delete reads the Secret first and deletes only this resource's (uid precondition); gone: ok.
//
// Contract (on top of SecretWriter's): the value is registered with the scrubber (RegisterSecret)
// before it is sent; it goes only into `data`. Errors name the Secret and say what to do:
//   a Secret of that name that is not ours       kFailed (rename or delete it)
//   401/403 (credentials, RBAC)                  kFailed, naming the verb on secrets to grant
//   API unreachable, 409/429/5xx                 kUnavailable
#pragma once

#include <memory>

#include "kube/api.h"
#include "reconcilers/schemaupgrade/secret_writer.h"

namespace su::kube {

// api must outlive the writer.
std::unique_ptr<SecretWriter> NewKubeSecretWriter(KubeApi* api);

}  // namespace su::kube
