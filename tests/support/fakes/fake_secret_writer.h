// FakeSecretWriter: Secrets in memory, keyed "namespace/name", with every call appended to a
// journal ("put ns/name key" / "delete ns/name", never the value) that a test can share with other
// fakes to check the order of events. `put_error` / `delete_error` make the next calls fail.
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "reconcilers/schemaupgrade/secret_writer.h"

namespace su::testing {

class FakeSecretWriter : public SecretWriter {
 public:
  explicit FakeSecretWriter(std::vector<std::string>* journal = nullptr) : journal_(journal) {}

  Status Put(const SchemaUpgrade& su, const std::string& name, const std::string& key,
             const std::string& value) override {
    std::lock_guard<std::mutex> l(mu_);
    Note("put " + su.namespace_ + "/" + name + " " + key);
    if (!put_error.ok()) return put_error;
    const std::string k = su.namespace_ + "/" + name;
    replaced_ += secrets_.count(k) ? 1 : 0;
    secrets_[k] = {{key, value}};
    owners_[k] = su.Key() + "@" + su.uid;
    return Status::Ok();
  }
  Status Delete(const SchemaUpgrade& su, const std::string& name) override {
    std::lock_guard<std::mutex> l(mu_);
    Note("delete " + su.namespace_ + "/" + name);
    if (!delete_error.ok()) return delete_error;
    secrets_.erase(su.namespace_ + "/" + name);
    owners_.erase(su.namespace_ + "/" + name);
    return Status::Ok();
  }

  // The Secret's data ({} when it does not exist).
  std::map<std::string, std::string> Data(const std::string& ns_name) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = secrets_.find(ns_name);
    return it == secrets_.end() ? std::map<std::string, std::string>{} : it->second;
  }
  bool Exists(const std::string& ns_name) const {
    std::lock_guard<std::mutex> l(mu_);
    return secrets_.count(ns_name) > 0;
  }
  // A Secret left by an earlier (killed) pass.
  void Seed(const std::string& ns_name, std::map<std::string, std::string> data) {
    std::lock_guard<std::mutex> l(mu_);
    secrets_[ns_name] = std::move(data);
  }
  int replaced() const {
    std::lock_guard<std::mutex> l(mu_);
    return replaced_;
  }
  std::vector<std::string> calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

  Status put_error = Status::Ok();
  Status delete_error = Status::Ok();

 private:
  void Note(const std::string& what) {
    calls_.push_back(what);
    if (journal_) journal_->push_back(what);
  }
  mutable std::mutex mu_;
  std::vector<std::string>* journal_;
  std::map<std::string, std::map<std::string, std::string>> secrets_;
  std::map<std::string, std::string> owners_;
  std::vector<std::string> calls_;
  int replaced_ = 0;
};

}  // namespace su::testing
