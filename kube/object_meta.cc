// ObjectMeta extraction (see object_meta.h).
#include "kube/object_meta.h"

#include <cpprest/json.h>

namespace su::kube {

Result<ObjectMeta> ParseObjectMeta(const std::string& json) {
  try {
    auto v = web::json::value::parse(json);
    if (!v.is_object() || !v.has_object_field("metadata"))
      return Status::Invalid("object has no metadata");
    const auto& m = v.at("metadata");
    ObjectMeta out;
    if (m.has_string_field("name")) out.name = m.at("name").as_string();
    if (out.name.empty()) return Status::Invalid("object has no metadata.name");
    if (m.has_string_field("namespace")) out.ns = m.at("namespace").as_string();
    if (m.has_string_field("uid")) out.uid = m.at("uid").as_string();
    if (m.has_string_field("resourceVersion")) out.resource_version = m.at("resourceVersion").as_string();
    if (m.has_number_field("generation")) out.generation = m.at("generation").as_number().to_int64();
    out.deleting = m.has_field("deletionTimestamp") && !m.at("deletionTimestamp").is_null();
    return out;
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("object is not valid JSON: ") + e.what());
  }
}

std::string ParseResourceVersion(const std::string& json) {
  try {
    auto v = web::json::value::parse(json);
    if (v.is_object() && v.has_object_field("metadata") && v.at("metadata").has_string_field("resourceVersion"))
      return v.at("metadata").at("resourceVersion").as_string();
  } catch (const std::exception&) {
  }
  return "";
}

}  // namespace su::kube
