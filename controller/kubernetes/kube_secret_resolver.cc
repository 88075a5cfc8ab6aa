// Kubernetes SecretResolver (see kube_secret_resolver.h).
#include "controller/kubernetes/kube_secret_resolver.h"

#include <cpprest/json.h>

#include "kube/base64.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/manifest/manifest.h"

namespace su::kube {
namespace {

using web::json::value;

class KubeSecretResolver : public SecretResolver {
 public:
  KubeSecretResolver(KubeApi* api, LocalSecretOptions local) : api_(api) {
    local.secret_key_ref_message.clear();
    local_ = NewLocalSecretResolver(std::move(local));
  }

  Result<std::string> ResolveDsn(const SchemaUpgrade& su) override {
    if (su.dsn.kind != DsnSource::Kind::kSecretKeyRef) return local_->ResolveDsn(su);
    const std::string& name = su.dsn.secret_name;
    const std::string& key = su.dsn.secret_key;
    const std::string field = SourceOf(su) + ": spec.database.dsnFrom.secretKeyRef: ";
    const std::string secret = "Secret " + su.namespace_ + "/" + name;
    if (name.empty() || key.empty()) {
      return Status::Invalid(field + "needs both name and key (the Secret in namespace " + su.namespace_ +
                             " and the key holding the PostgreSQL DSN)");
    }
    auto got = api_->Get(ResourcePath{kSecrets, su.namespace_, name});
    if (!got.ok()) {
      const ApiError& e = got.error();
      if (e.IsNotFound()) {
        return Status::Invalid(field + secret + " does not exist; create it with the key " + key +
                               " holding the PostgreSQL DSN (kubectl create secret generic " + name + " -n " +
                               su.namespace_ + " --from-literal=" + key + "=postgres://...), or correct the name; "
                               "the controller looks again on its next resync or when the SchemaUpgrade changes");
      }
      if (e.IsForbidden() || e.IsUnauthorized()) {
        return Status::Failed(field + "cannot read " + secret + ": " + e.Describe() +
                              "; grant the controller's ServiceAccount `get` on secrets in namespace " +
                              su.namespace_ + " (manifests/rbac.yaml, the chart's RBAC)");
      }
      Status s = e.ToStatus();
      return Status::Error(s.code() == Code::kInvalidArgument ? Code::kInvalidArgument : Code::kUnavailable,
                           field + "reading " + secret + ": " + e.Describe());
    }
    std::string dsn;
    std::vector<std::string> keys;
    bool found = false;
    try {
      value obj = value::parse(*got);
      if (obj.is_object() && obj.has_field("data") && obj.at("data").is_object()) {
        for (const auto& [k, v] : obj.at("data").as_object()) {
          keys.push_back(k);
          if (k != key) continue;
          found = true;
          if (!v.is_string() || !Base64Decode(v.as_string(), &dsn)) {
            return Status::Invalid(field + secret + " key " + key + " is not valid base64 (value not shown)");
          }
        }
      }
    } catch (const std::exception&) {
      return Status::Error(Code::kUnavailable, field + "reading " + secret + ": the API answered with no JSON object");
    }
    // Registered before any check: nothing below (or anywhere later) can print it.
    RegisterSecret(dsn);
    RegisterDsnSecrets(dsn);
    if (!found) {
      std::string have;
      for (const auto& k : keys) have += (have.empty() ? "" : ", ") + k;
      return Status::Invalid(field + secret + " has no key " + key + " (its keys: " +
                             (have.empty() ? std::string("none") : have) + "); add the key holding the PostgreSQL DSN "
                             "(kubectl patch secret " + name + " -n " + su.namespace_ +
                             " --type merge -p '{\"stringData\":{\"" + key + "\":\"postgres://...\"}}'), or correct "
                             "secretKeyRef.key; the controller looks again on its next resync or when the "
                             "SchemaUpgrade changes");
    }
    while (!dsn.empty() && (dsn.back() == '\n' || dsn.back() == '\r' || dsn.back() == ' ' || dsn.back() == '\t')) {
      dsn.pop_back();
    }
    if (dsn.empty()) {
      return Status::Invalid(field + secret + " key " + key + " is empty; expected the PostgreSQL DSN");
    }
    if (dsn.find('\n') != std::string::npos) {
      return Status::Invalid(field + secret + " key " + key + " has more than one line (value not shown); expected "
                             "only the PostgreSQL DSN");
    }
    return dsn;
  }

 private:
  KubeApi* api_;
  std::unique_ptr<SecretResolver> local_;
};

}  // namespace

std::unique_ptr<SecretResolver> NewKubeSecretResolver(KubeApi* api, LocalSecretOptions local) {
  return std::make_unique<KubeSecretResolver>(api, std::move(local));
}

}  // namespace su::kube
