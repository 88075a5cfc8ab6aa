// SchemaUpgrade JSON codec (see schemaupgrade_json.h).
#include "controller/kubernetes/schemaupgrade_json.h"

#include "reconcilers/manifest/manifest.h"

namespace su::kube {

std::string ObjectOrigin(const ObjectMeta& meta) { return "SchemaUpgrade " + meta.Key(); }

SourcedResource DecodeSchemaUpgrade(const std::string& json, const std::string& base_dir) {
  SourcedResource out;
  auto meta = ParseObjectMeta(json);
  if (!meta.ok()) {
    out.resource = meta.status();
    return out;
  }
  out.key = meta->Key();
  out.generation = meta->generation > 0 ? meta->generation : 1;
  auto su = ParseResourceObject(json, ObjectOrigin(*meta), base_dir);
  if (!su.ok()) {
    out.resource = su.status();
    return out;
  }
  su->generation = out.generation;
  su->uid = meta->uid;
  out.resource = std::move(su).value();
  return out;
}

}  // namespace su::kube
