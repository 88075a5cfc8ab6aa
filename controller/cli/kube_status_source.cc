// SchemaUpgrade status from the Kubernetes API (see kube_status_source.h). cpprestsdk stays here.
#include "controller/cli/kube_status_source.h"

#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>

#include "kube/api.h"
#include "kube/rest_client.h"
#include "reconcilers/schemaupgrade/status_json.h"

namespace su {
namespace {

using web::json::value;

std::string Str(const value& o, const char* key) {
  return o.is_object() && o.has_field(key) && o.at(key).is_string() ? o.at(key).as_string() : "";
}

}  // namespace

Result<std::vector<ResourceStatus>> ListKubeStatuses(const kube::ConfigOptions& config, const std::string& ns) {
  auto rest = kube::LoadConfig(config);
  if (!rest.ok()) return rest.status();
  auto client = kube::NewRestClient(*rest);
  if (!client.ok()) return client.status();
  kube::ResourcePath path{kube::kSchemaUpgrades, ns, "", ""};
  auto list = (*client)->List(path);
  if (!list.ok()) {
    return list.status().WithContext("listing SchemaUpgrades (is the CRD installed? see crds/)");
  }
  std::vector<ResourceStatus> out;
  for (const auto& item : list->items) {
    value o;
    try {
      o = value::parse(item);
    } catch (const std::exception& e) {
      return Status::Io(std::string("the API server sent an object that is not JSON: ") + e.what());
    }
    const value meta = o.has_field("metadata") ? o.at("metadata") : value::object();
    const std::string key = Str(meta, "namespace") + "/" + Str(meta, "name");
    ResourceStatus s;
    if (o.has_field("status") && o.at("status").is_object()) {
      std::string error;
      if (!StatusFromJson(o.at("status").serialize(), &s, &error)) {
        return Status::Io(key + ": its status does not read: " + error);
      }
    } else {
      s.phase = Phase::kPending;
      s.message = "no status yet: no controller has reconciled it (is the operator running?)";
    }
    s.resource = key;
    if (s.target_version.empty() && o.has_field("spec")) s.target_version = Str(o.at("spec"), "targetVersion");
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace su
