// JSON reading helpers for the Kubernetes runtime (see workload_json.h).
#include "reconcilers/runtimes/kubernetes/workload_json.h"

namespace su::kube_runtime {

const value* At(const value& v, std::initializer_list<const char*> keys) {
  const value* cur = &v;
  for (const char* k : keys) {
    if (!cur->is_object()) return nullptr;
    const auto& obj = cur->as_object();
    auto it = obj.find(k);
    if (it == obj.end()) return nullptr;
    cur = &it->second;
  }
  return cur;
}

std::string Str(const value& v, std::initializer_list<const char*> keys) {
  const value* x = At(v, keys);
  return x && x->is_string() ? x->as_string() : std::string();
}

int64_t Int(const value& v, std::initializer_list<const char*> keys, int64_t fallback) {
  const value* x = At(v, keys);
  return x && x->is_number() ? x->as_number().to_int64() : fallback;
}

bool Bool(const value& v, std::initializer_list<const char*> keys) {
  const value* x = At(v, keys);
  return x && x->is_boolean() && x->as_bool();
}

bool Has(const value& v, std::initializer_list<const char*> keys) {
  const value* x = At(v, keys);
  return x && !x->is_null();
}

Result<value> Parse(const std::string& json, const std::string& what) {
  try {
    return value::parse(json);
  } catch (const std::exception& e) {
    return Status::Error(Code::kUnavailable, what + ": the API server's answer is not JSON: " + e.what());
  }
}

Result<ContainerAt> FindContainer(const value& workload, const std::string& name, const std::string& describe) {
  const value* cs = At(workload, {"spec", "template", "spec", "containers"});
  if (!cs || !cs->is_array() || cs->as_array().size() == 0) {
    return Status::Invalid(describe + " has no containers in spec.template.spec.containers");
  }
  std::string names;
  int i = 0;
  for (const auto& c : cs->as_array()) {
    std::string n = Str(c, {"name"});
    if (name.empty() || n == name) return ContainerAt{i, n, Str(c, {"image"})};
    names += (names.empty() ? "" : ", ") + n;
    ++i;
  }
  return Status::Invalid(describe + " has no container \"" + name + "\" (spec.workload.container; it has: " + names +
                         "): name one of its containers, or leave spec.workload.container empty for the first");
}

}  // namespace su::kube_runtime
