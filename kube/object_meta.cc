// ObjectMeta extraction (see object_meta.h).
#include "kube/object_meta.h"

#include <cpprest/json.h>

namespace su::kube {

namespace {

constexpr const char* kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

Result<ObjectMeta> MetaOf(const web::json::value& v) {
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
}

}  // namespace

Result<ObjectMeta> ParseObjectMeta(const std::string& json) {
  try {
    return MetaOf(web::json::value::parse(json));
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("object is not valid JSON: ") + e.what());
  }
}

Result<ObjectMeta> ParseObjectMetaTrimmed(std::string* json) {
  try {
    auto v = web::json::value::parse(*json);
    SU_ASSIGN_OR_RETURN(ObjectMeta out, MetaOf(v));
    auto& m = v.at("metadata");
    bool trimmed = false;
    if (m.has_field("managedFields")) {
      m.erase("managedFields");
      trimmed = true;
    }
    if (m.has_object_field("annotations") && m.at("annotations").has_field(kLastApplied)) {
      auto& annotations = m.at("annotations");
      annotations.erase(kLastApplied);
      if (annotations.size() == 0) m.erase("annotations");
      trimmed = true;
    }
    if (trimmed) *json = v.serialize();
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
