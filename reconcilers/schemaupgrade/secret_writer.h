// SecretWriter: the writing side of SecretResolver (secret_resolver.h). The reconciler puts a DSN
// it made (the rehearsal copy's, for the ory migrator run as a Kubernetes Job, which reads its DSN
// only from a Secret) into a Secret of the resource's own, and deletes it when done.
// Implementations: controller/kubernetes/kube_secret_writer.h (`controller --kubernetes`) and
// FakeSecretWriter (tests/support/fakes) for unit tests. Other modes have none (ReconcilerDeps::
// secret_writer null): their migrators get the DSN through the environment.
//
// Contract: thread-safe. The value is only ever written into the Secret's data: never into its
// name, labels or annotations, and no message quotes it. Errors name the Secret and say what to do.
#pragma once

#include <string>

#include "api/spec.h"
#include "reconcilers/base/result.h"
#include "reconcilers/base/sha256.h"

namespace su {

class SecretWriter {
 public:
  virtual ~SecretWriter() = default;
  // Makes the Secret `name` in su's namespace hold exactly {key: value}, labelled with su's name
  // and uid and owned by su (an ownerReference: the garbage collector deletes it with su, e.g. when
  // the controller died before deleting it). A Secret of that name left behind by an earlier pass
  // for su (a killed one) is replaced. One that is not su's (other labels) is never touched:
  // kFailed naming it. API unreachable: kUnavailable.
  virtual Status Put(const SchemaUpgrade& su, const std::string& name, const std::string& key,
                     const std::string& value) = 0;
  // Deletes the Secret `name` in su's namespace; ok when it does not exist.
  virtual Status Delete(const SchemaUpgrade& su, const std::string& name) = 0;
};

// The rehearsal copy's DSN Secret of a resource: "<name>-rehearsal-dsn" (key kRehearsalDsnKey),
// or, for a name too long for a Secret name (253), a prefix of it and a hash of the whole.
inline constexpr const char* kRehearsalDsnKey = "dsn";
inline std::string RehearsalDsnSecretName(const std::string& resource_name) {
  const std::string suffix = "-rehearsal-dsn";
  if (resource_name.size() + suffix.size() <= 253) return resource_name + suffix;
  std::string head = resource_name.substr(0, 253 - suffix.size() - 11);
  while (!head.empty() && (head.back() == '-' || head.back() == '.')) head.pop_back();
  return head + "-" + Sha256Hex(resource_name).substr(0, 10) + suffix;
}

}  // namespace su
