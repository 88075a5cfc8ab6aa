// FakeKubeApi: a scripted KubeApi (kube/api.h) for unit tests of code that lists and watches.
// List answers and watch sessions are consumed front first; a Watch with no script left blocks until
// its stop_token fires (an idle, healthy watch). Every call is recorded. Get/Create/Update/Patch/Delete
// answer from `writes` (front consumed) or 404. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "kube/api.h"

namespace su::testing {

class FakeKubeApi : public kube::KubeApi {
 public:
  struct WatchScript {
    std::vector<kube::WatchEvent> events;  // delivered in order
    kube::ApiResult<bool> end = true;      // then returned (true: the server closed the stream)
  };
  struct Call {
    std::string verb;  // get list create update patch delete watch
    std::string url;
    std::string resource_version;  // list/watch
    std::string body;
  };

  void AddList(kube::ApiResult<kube::ListResult> r) {
    std::lock_guard<std::mutex> l(mu_);
    lists_.push_back(std::move(r));
  }
  void AddWatch(WatchScript w) {
    std::lock_guard<std::mutex> l(mu_);
    watches_.push_back(std::move(w));
  }
  void AddWrite(kube::ApiResult<std::string> r) {
    std::lock_guard<std::mutex> l(mu_);
    writes_.push_back(std::move(r));
  }
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }
  int Count(const std::string& verb) const {
    std::lock_guard<std::mutex> l(mu_);
    int n = 0;
    for (const auto& c : calls_) n += c.verb == verb;
    return n;
  }

  kube::ApiResult<std::string> Get(const kube::ResourcePath& p) override { return Write("get", p, ""); }
  kube::ApiResult<kube::ListResult> List(const kube::ResourcePath& p, const kube::ListOptions& o) override {
    std::lock_guard<std::mutex> l(mu_);
    calls_.push_back({"list", p.Url(), o.resource_version, ""});
    if (lists_.empty()) return kube::TransportError("list", p.Url(), "fake: no list scripted");
    auto r = std::move(lists_.front());
    lists_.pop_front();
    return r;
  }
  kube::ApiResult<std::string> Create(const kube::ResourcePath& p, const std::string& body,
                                      const kube::WriteOptions&) override {
    return Write("create", p, body);
  }
  kube::ApiResult<std::string> Update(const kube::ResourcePath& p, const std::string& body,
                                      const kube::WriteOptions&) override {
    return Write("update", p, body);
  }
  kube::ApiResult<std::string> Patch(const kube::ResourcePath& p, kube::PatchType, const std::string& body,
                                     const kube::WriteOptions&) override {
    return Write("patch", p, body);
  }
  kube::ApiResult<std::string> Delete(const kube::ResourcePath& p, const kube::DeleteOptions&) override {
    return Write("delete", p, "");
  }
  kube::ApiResult<bool> Watch(const kube::ResourcePath& p, const kube::WatchOptions& o,
                              const EventHandler& on_event, std::stop_token stop) override {
    WatchScript script;
    {
      std::unique_lock<std::mutex> l(mu_);
      calls_.push_back({"watch", p.Url(), o.resource_version, ""});
      if (watches_.empty()) {
        cv_.wait(l, stop, [] { return false; });
        return false;
      }
      script = std::move(watches_.front());
      watches_.pop_front();
    }
    for (const auto& ev : script.events) {
      if (stop.stop_requested()) return false;
      if (!on_event(ev)) return false;
    }
    return script.end;
  }

 private:
  kube::ApiResult<std::string> Write(const std::string& verb, const kube::ResourcePath& p, const std::string& body) {
    std::lock_guard<std::mutex> l(mu_);
    calls_.push_back({verb, p.Url(), "", body});
    if (writes_.empty()) return kube::ApiErrorFromResponse(404, "", verb, p.Url());
    auto r = std::move(writes_.front());
    writes_.pop_front();
    return r;
  }

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<kube::ApiResult<kube::ListResult>> lists_;
  std::deque<WatchScript> watches_;
  std::deque<kube::ApiResult<std::string>> writes_;
  std::vector<Call> calls_;
};

}  // namespace su::testing
