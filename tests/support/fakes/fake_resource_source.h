// FakeResourceSource: a ResourceSource whose contents a test sets (Put/PutInvalid/Remove/Resync call
// the handler as a real source would). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "controller/runtime/resource_source.h"

namespace su::testing {

class FakeResourceSource : public ResourceSource {
 public:
  Status Start(ResourceHandler handler) override {
    std::map<std::string, SourcedResource> now;
    {
      std::lock_guard<std::mutex> l(mu_);
      handler_ = std::move(handler);
      started_ = true;
      now = items_;
    }
    for (const auto& [k, _] : now) handler_.changed(k);
    std::lock_guard<std::mutex> l(mu_);
    synced_ = true;
    return Status::Ok();
  }
  void Stop() override {
    std::lock_guard<std::mutex> l(mu_);
    started_ = false;
  }
  bool HasSynced() const override {
    std::lock_guard<std::mutex> l(mu_);
    return synced_;
  }
  std::optional<SourcedResource> Get(const std::string& key) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = items_.find(key);
    if (it == items_.end()) return std::nullopt;
    return it->second;
  }
  std::string Describe() const override { return "fake"; }

  void Put(const SchemaUpgrade& su) { Set({su.Key(), su.generation, su}); }
  void PutInvalid(const std::string& key, long long generation, const Status& why) { Set({key, generation, why}); }
  void Remove(const std::string& key) {
    bool notify;
    {
      std::lock_guard<std::mutex> l(mu_);
      items_.erase(key);
      notify = started_;
    }
    if (notify && handler_.removed) handler_.removed(key);
  }
  void Resync() {
    std::map<std::string, SourcedResource> now;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!started_) return;
      now = items_;
    }
    for (const auto& [k, _] : now) handler_.resynced(k);
  }

 private:
  void Set(SourcedResource r) {
    std::string key = r.key;
    bool notify;
    {
      std::lock_guard<std::mutex> l(mu_);
      items_.insert_or_assign(key, std::move(r));
      notify = started_;
    }
    if (notify && handler_.changed) handler_.changed(key);
  }

  mutable std::mutex mu_;
  ResourceHandler handler_;
  std::map<std::string, SourcedResource> items_;
  bool started_ = false;
  bool synced_ = false;
};

}  // namespace su::testing
