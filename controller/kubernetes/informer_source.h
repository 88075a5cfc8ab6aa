// KubeResourceSource: the ResourceSource of Kubernetes mode: an Informer (kube/informer.h) on
// SchemaUpgrades in the watched namespaces (all by default). Informer events become handler calls:
// add -> changed; update -> changed only when the desired state changed (uid, metadata.generation,
// annotations, deletion), so the controller's own status writes (which bump resourceVersion and
// come back as updates) do not requeue the key; resync -> resynced; delete -> removed.
// Get(key) decodes the cached object (schemaupgrade_json.h): an object failing our validation comes
// back with the error and its generation. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/kubernetes/kube_event_recorder.h"
#include "controller/runtime/resource_source.h"
#include "kube/informer.h"

namespace su::kube {

struct KubeResourceSourceOptions {
  KubeApi* api = nullptr;
  std::vector<std::string> namespaces;          // empty: all namespaces
  std::chrono::milliseconds resync_period{0};   // 0: none
  std::string base_dir;                         // relative migrations.path / dsnFrom.file: cwd
  std::string server;                           // for Describe()
};

class KubeResourceSource : public ResourceSource {
 public:
  explicit KubeResourceSource(KubeResourceSourceOptions options);
  ~KubeResourceSource() override;

  Status Start(ResourceHandler handler) override;
  void Stop() override;
  bool HasSynced() const override;
  std::optional<SourcedResource> Get(const std::string& key) override;
  std::string Describe() const override;

  // The cached object (JSON), every cached key, the object reference Events point at.
  std::optional<std::string> Object(const std::string& key) const;
  std::vector<std::string> Keys() const;
  std::optional<ObjectRef> Ref(const std::string& key) const;
  Informer::Stats stats() const;
  std::string last_error() const;

 private:
  void OnEvent(InformerEvent e, const std::string& key);

  const KubeResourceSourceOptions o_;
  ResourceHandler handler_;
  std::unique_ptr<Informer> informer_;
  std::mutex mu_;
  std::map<std::string, std::string> desired_;  // guarded by mu_: key -> DesiredStateToken
};

// What a change must touch to count as a new desired state: uid, generation, annotations and
// deletion of the object's JSON ("" when it is not an object).
std::string DesiredStateToken(const std::string& object_json);

}  // namespace su::kube
