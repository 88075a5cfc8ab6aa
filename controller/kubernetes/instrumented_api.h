// InstrumentedKubeApi: a KubeApi that counts every call by verb and answer code and hands the count
// to a callback (the controller's /metrics: api_requests_total{verb,code}), then forwards to the
// real client. code is the HTTP status as text, "transport" when there was no answer. A watch is
// counted when it ends. Thread-safe when the callback is.
#pragma once

#include <functional>
#include <string>

#include "kube/api.h"

namespace su::kube {

class InstrumentedKubeApi : public KubeApi {
 public:
  using OnRequest = std::function<void(const std::string& verb, const std::string& code, double seconds)>;
  InstrumentedKubeApi(KubeApi* inner, OnRequest on_request) : inner_(inner), on_(std::move(on_request)) {}

  ApiResult<std::string> Get(const ResourcePath& path) override;
  ApiResult<ListResult> List(const ResourcePath& path, const ListOptions& options) override;
  ApiResult<std::string> Create(const ResourcePath& path, const std::string& body, const WriteOptions& options) override;
  ApiResult<std::string> Update(const ResourcePath& path, const std::string& body, const WriteOptions& options) override;
  ApiResult<std::string> Patch(const ResourcePath& path, PatchType type, const std::string& body,
                               const WriteOptions& options) override;
  ApiResult<std::string> Delete(const ResourcePath& path, const DeleteOptions& options) override;
  ApiResult<bool> Watch(const ResourcePath& path, const WatchOptions& options, const EventHandler& on_event,
                        std::stop_token stop) override;

 private:
  KubeApi* const inner_;
  const OnRequest on_;
};

}  // namespace su::kube
