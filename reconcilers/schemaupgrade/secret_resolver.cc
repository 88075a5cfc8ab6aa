// The local SecretResolver (see secret_resolver.h).
#include "reconcilers/schemaupgrade/secret_resolver.h"

#include <cstdlib>

#include "reconcilers/manifest/manifest.h"

namespace su {
namespace {

class LocalSecretResolver : public SecretResolver {
 public:
  explicit LocalSecretResolver(LocalSecretOptions o) : o_(std::move(o)) {
    if (!o_.getenv) o_.getenv = [](const char* n) -> const char* { return std::getenv(n); };
  }

  Result<std::string> ResolveDsn(const SchemaUpgrade& su) override {
    if (su.dsn.kind == DsnSource::Kind::kSecretKeyRef && !o_.secret_key_ref_message.empty()) {
      return Status::Invalid(SourceOf(su) + ": spec.database.dsnFrom.secretKeyRef: Secret " + su.dsn.secret_name +
                             " key " + su.dsn.secret_key + ": " + o_.secret_key_ref_message);
    }
    return ::su::ResolveDsn(su, o_.fs, o_.getenv);
  }

 private:
  LocalSecretOptions o_;
};

}  // namespace

std::unique_ptr<SecretResolver> NewLocalSecretResolver(LocalSecretOptions options) {
  return std::make_unique<LocalSecretResolver>(std::move(options));
}

}  // namespace su
