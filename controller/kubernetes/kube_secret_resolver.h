// The SecretResolver (reconcilers/schemaupgrade/secret_resolver.h) of `controller --kubernetes`:
// spec.database.dsnFrom.secretKeyRef {name, key} is read from the Secret of that name in the
// SchemaUpgrade's own namespace (GET secrets, the base64 `data` map: a real API server stores
// stringData into data); dsnFrom.env and dsnFrom.file resolve as the local resolver does (the
// controller's own environment and file system).
//
// Contract (on top of SecretResolver's): the value is registered with the scrubber
// (RegisterSecret and RegisterDsnSecrets) before anything else looks at it, and no message ever
// quotes it. Errors name the resource, the field, the Secret and the key and say what to do:
//   Secret missing, key missing, value empty     kInvalidArgument (Stalled InvalidDatabaseSource;
//                                                the reconciler looks again on each resync and
//                                                watch event, it does not spin)
//   cannot read it (401/403: credentials, RBAC) kFailed, naming the `get secrets` permission
//   API unreachable, 409/429/5xx                kUnavailable (retried with backoff)
#pragma once

#include <memory>

#include "kube/api.h"
#include "reconcilers/schemaupgrade/secret_resolver.h"

namespace su::kube {

inline const GroupVersionResource kSecrets{"", "v1", "secrets", true};

// api must outlive the resolver. local: options of the env/file resolver (its secretKeyRef
// message is unused: this one reads Secrets).
std::unique_ptr<SecretResolver> NewKubeSecretResolver(KubeApi* api, LocalSecretOptions local = {});

}  // namespace su::kube
