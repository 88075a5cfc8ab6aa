// FakeSecretResolver: DSNs by resource key, registered with RegisterDsnSecrets as the real ones are;
// a key without one is the error `missing` (default: kInvalidArgument naming the field). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "reconcilers/base/secrets.h"
#include "reconcilers/schemaupgrade/secret_resolver.h"

namespace su::testing {

class FakeSecretResolver : public SecretResolver {
 public:
  void Set(const std::string& key, const std::string& dsn) {
    std::lock_guard<std::mutex> l(mu_);
    dsns_[key] = dsn;
  }
  Result<std::string> ResolveDsn(const SchemaUpgrade& su) override {
    std::lock_guard<std::mutex> l(mu_);
    ++calls_;
    auto it = dsns_.find(su.Key());
    if (it == dsns_.end()) return Status::Invalid(su.Key() + ": spec.database.dsnFrom: no DSN in the fake");
    RegisterDsnSecrets(it->second);
    return it->second;
  }
  int calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> dsns_;
  int calls_ = 0;
};

}  // namespace su::testing
