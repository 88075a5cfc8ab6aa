// Internal to runtimes/kubernetes: reading Deployment / StatefulSet / Pod JSON (cpprestsdk's
// web::json stays inside this module's .cc files and this header).
#pragma once

#include <cpprest/json.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "reconcilers/base/result.h"

namespace su::kube_runtime {

using web::json::value;

// The value at keys (objects only), or nullptr.
const value* At(const value& v, std::initializer_list<const char*> keys);
std::string Str(const value& v, std::initializer_list<const char*> keys);
// Integers; `fallback` when absent or not a number.
int64_t Int(const value& v, std::initializer_list<const char*> keys, int64_t fallback = 0);
bool Bool(const value& v, std::initializer_list<const char*> keys);
bool Has(const value& v, std::initializer_list<const char*> keys);
Result<value> Parse(const std::string& json, const std::string& what);

// The container named `name` (the first when empty) of spec.template.spec.containers; its index.
struct ContainerAt {
  int index = -1;
  std::string name;
  std::string image;
};
// kInvalidArgument naming the workload and the container when there is no such container.
Result<ContainerAt> FindContainer(const value& workload, const std::string& name, const std::string& describe);

}  // namespace su::kube_runtime
