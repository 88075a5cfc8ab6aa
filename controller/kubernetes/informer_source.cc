// KubeResourceSource (see informer_source.h).
#include "controller/kubernetes/informer_source.h"

#include <cpprest/json.h>

#include "controller/kubernetes/schemaupgrade_json.h"
#include "kube/object_meta.h"

namespace su::kube {

std::string DesiredStateToken(const std::string& object_json) {
  try {
    auto v = web::json::value::parse(object_json);
    if (!v.is_object() || !v.has_object_field("metadata")) return "";
    const auto& m = v.at("metadata");
    std::string t;
    for (const char* f : {"uid", "generation", "annotations", "deletionTimestamp"}) {
      t += std::string(f) + "=" + (m.has_field(f) ? m.at(f).serialize() : "") + ";";
    }
    return t;
  } catch (const std::exception&) {
    return "";
  }
}

KubeResourceSource::KubeResourceSource(KubeResourceSourceOptions options) : o_(std::move(options)) {}

KubeResourceSource::~KubeResourceSource() { Stop(); }

Status KubeResourceSource::Start(ResourceHandler handler) {
  if (informer_) return Status::Invalid("the Kubernetes source was started twice");
  handler_ = std::move(handler);
  InformerOptions io;
  io.gvr = kSchemaUpgrades;
  io.namespaces = o_.namespaces;
  io.resync_period = o_.resync_period;
  informer_ = std::make_unique<Informer>(o_.api, io, [this](InformerEvent e, const std::string& key) { OnEvent(e, key); });
  informer_->Start();
  return Status::Ok();
}

void KubeResourceSource::Stop() {
  if (informer_) informer_->Stop();
}

bool KubeResourceSource::HasSynced() const { return informer_ && informer_->HasSynced(); }

void KubeResourceSource::OnEvent(InformerEvent e, const std::string& key) {
  switch (e) {
    case InformerEvent::kAdd:
    case InformerEvent::kUpdate: {
      auto obj = informer_->Get(key);
      std::string token = obj ? DesiredStateToken(*obj) : "";
      {
        std::lock_guard<std::mutex> l(mu_);
        auto [it, fresh] = desired_.try_emplace(key, token);
        if (!fresh) {
          if (it->second == token) return;  // a status write or another change of nothing we read
          it->second = token;
        }
      }
      if (handler_.changed) handler_.changed(key);
      return;
    }
    case InformerEvent::kResync:
      if (handler_.resynced) handler_.resynced(key);
      return;
    case InformerEvent::kDelete: {
      {
        std::lock_guard<std::mutex> l(mu_);
        desired_.erase(key);
      }
      if (handler_.removed) handler_.removed(key);
      return;
    }
  }
}

std::optional<SourcedResource> KubeResourceSource::Get(const std::string& key) {
  auto obj = Object(key);
  if (!obj) return std::nullopt;
  return DecodeSchemaUpgrade(*obj, o_.base_dir);
}

std::string KubeResourceSource::Describe() const {
  std::string ns;
  for (const auto& n : o_.namespaces) ns += (ns.empty() ? "" : ",") + n;
  return "kubernetes " + o_.server + " namespaces " + (ns.empty() ? "all" : ns);
}

std::optional<std::string> KubeResourceSource::Object(const std::string& key) const {
  if (!informer_) return std::nullopt;
  return informer_->Get(key);
}

std::vector<std::string> KubeResourceSource::Keys() const {
  if (!informer_) return {};
  return informer_->Keys();
}

std::optional<ObjectRef> KubeResourceSource::Ref(const std::string& key) const {
  auto obj = Object(key);
  if (!obj) return std::nullopt;
  auto meta = ParseObjectMeta(*obj);
  if (!meta.ok()) return std::nullopt;
  ObjectRef r;
  r.ns = meta->ns;
  r.name = meta->name;
  r.uid = meta->uid;
  r.resource_version = meta->resource_version;
  return r;
}

Informer::Stats KubeResourceSource::stats() const { return informer_ ? informer_->stats() : Informer::Stats{}; }

std::string KubeResourceSource::last_error() const { return informer_ ? informer_->last_error() : ""; }

}  // namespace su::kube
