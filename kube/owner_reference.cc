// See owner_reference.h.
#include "kube/owner_reference.h"

namespace su::kube {

web::json::value ControllerOwnerReferences(const std::string& api_version, const std::string& kind,
                                           const std::string& name, const std::string& uid) {
  using web::json::value;
  value owner = value::object();
  owner["apiVersion"] = value::string(api_version);
  owner["kind"] = value::string(kind);
  owner["name"] = value::string(name);
  owner["uid"] = value::string(uid);
  owner["controller"] = value::boolean(true);
  value owners = value::array();
  owners[0] = owner;
  return owners;
}

}  // namespace su::kube
