// SecretResolver: where a resource's DSN comes from (spec.database.dsnFrom). The reconciler asks it
// once per pass and never stores or prints the answer. Implementations: the local one below (env
// and file in the controller's own environment and file system: the Podman mode, and Kubernetes
// mode with a Secret mounted into the controller), a Kubernetes Secret reader later (issue 9), and
// FakeSecretResolver (tests/support/fakes) for unit tests.
//
// Contract: thread-safe; every DSN returned has been registered with RegisterDsnSecrets (so
// Scrub() hides its password everywhere); an unusable source is kInvalidArgument naming the
// resource and the field (e.g. "m.yaml:3: spec.database.dsnFrom.env: ..."), never quoting a value.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/spec.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"

namespace su {

class SecretResolver {
 public:
  virtual ~SecretResolver() = default;
  virtual Result<std::string> ResolveDsn(const SchemaUpgrade& su) = 0;
};

struct LocalSecretOptions {
  FileSystem* fs = LocalFileSystem();
  std::function<const char*(const char*)> getenv;  // empty: ::getenv
  // What to say about dsnFrom.secretKeyRef, which this resolver cannot read. Empty: the manifests
  // folder's message (secretKeyRef is for Kubernetes mode).
  std::string secret_key_ref_message;
};

// dsnFrom.env and dsnFrom.file (ResolveDsn in manifest.h); secretKeyRef is refused.
std::unique_ptr<SecretResolver> NewLocalSecretResolver(LocalSecretOptions options = {});

// The secretKeyRef message of `controller --kubernetes` until the Kubernetes runtime reads Secrets.
inline constexpr const char* kSecretKeyRefNotYet =
    "secretKeyRef arrives with the Kubernetes runtime (issue 9); until then mount the Secret into the "
    "controller and use dsnFrom.file, or pass it as an environment variable and use dsnFrom.env";

}  // namespace su
