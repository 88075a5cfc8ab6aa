// InstrumentedKubeApi (see instrumented_api.h).
#include "controller/kubernetes/instrumented_api.h"

#include <chrono>

namespace su::kube {
namespace {

template <typename T, typename F>
ApiResult<T> Timed(const InstrumentedKubeApi::OnRequest& on, const char* verb, F&& call) {
  auto start = std::chrono::steady_clock::now();
  ApiResult<T> r = call();
  if (on) {
    std::string code = "200";
    if (!r.ok()) code = r.error().http_status == 0 ? "transport" : std::to_string(r.error().http_status);
    on(verb, code, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return r;
}

}  // namespace

ApiResult<std::string> InstrumentedKubeApi::Get(const ResourcePath& p) {
  return Timed<std::string>(on_, "get", [&] { return inner_->Get(p); });
}
ApiResult<ListResult> InstrumentedKubeApi::List(const ResourcePath& p, const ListOptions& o) {
  return Timed<ListResult>(on_, "list", [&] { return inner_->List(p, o); });
}
ApiResult<std::string> InstrumentedKubeApi::Create(const ResourcePath& p, const std::string& b, const WriteOptions& o) {
  return Timed<std::string>(on_, "create", [&] { return inner_->Create(p, b, o); });
}
ApiResult<std::string> InstrumentedKubeApi::Update(const ResourcePath& p, const std::string& b, const WriteOptions& o) {
  return Timed<std::string>(on_, "update", [&] { return inner_->Update(p, b, o); });
}
ApiResult<std::string> InstrumentedKubeApi::Patch(const ResourcePath& p, PatchType t, const std::string& b,
                                                  const WriteOptions& o) {
  return Timed<std::string>(on_, "patch", [&] { return inner_->Patch(p, t, b, o); });
}
ApiResult<std::string> InstrumentedKubeApi::Delete(const ResourcePath& p, const DeleteOptions& o) {
  return Timed<std::string>(on_, "delete", [&] { return inner_->Delete(p, o); });
}
ApiResult<bool> InstrumentedKubeApi::Watch(const ResourcePath& p, const WatchOptions& o, const EventHandler& h,
                                           std::stop_token stop) {
  return Timed<bool>(on_, "watch", [&] { return inner_->Watch(p, o, h, stop); });
}

}  // namespace su::kube
