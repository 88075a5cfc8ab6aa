// The metadata.ownerReferences array that makes an object a controller-owned dependent of another
// (the garbage collector deletes it with its owner). No blockOwnerDeletion: setting it needs update
// on the owner's finalizers subresource (admission OwnerReferencesPermissionEnforcement), and no
// object of ours need block its owner's deletion. For .cc files that build JSON with cpprestsdk.
#pragma once

#include <cpprest/json.h>

#include <string>

namespace su::kube {

// [{apiVersion, kind, name, uid, controller: true}].
web::json::value ControllerOwnerReferences(const std::string& api_version, const std::string& kind,
                                           const std::string& name, const std::string& uid);

}  // namespace su::kube
