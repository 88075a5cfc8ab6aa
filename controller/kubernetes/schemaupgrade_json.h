// The SchemaUpgrade codec of Kubernetes mode: an object as the API serves it (JSON) -> the plain
// struct the reconciler sees. Validation is the manifest parser's (ParseResourceObject: JSON is
// YAML), so an object that passes the CRD schema but not our rules (an older CRD, a rule the schema
// cannot express) is reported with the same field names as a manifest file would be, prefixed
// with "SchemaUpgrade <namespace>/<name>". Namespace, name and generation come from metadata.
#pragma once

#include <string>

#include "controller/runtime/resource_source.h"
#include "kube/object_meta.h"

namespace su::kube {

// "SchemaUpgrade ns/name": how errors and events name an object.
std::string ObjectOrigin(const ObjectMeta& meta);

// Decodes one object. base_dir resolves relative paths (migrations.path, dsnFrom.file): the
// controller's working directory. A JSON without metadata.name is an error in .resource and
// key "" (the informer never caches such an object).
SourcedResource DecodeSchemaUpgrade(const std::string& json, const std::string& base_dir);

}  // namespace su::kube
