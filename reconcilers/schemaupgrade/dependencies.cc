// spec.dependsOn: lookups, readiness at target, cycles and apply order (see dependencies.h).
#include "reconcilers/schemaupgrade/dependencies.h"

#include <functional>
#include <set>

#include "api/conditions.h"
#include "reconcilers/schemaupgrade/pass.h"

namespace su {

std::optional<SchemaUpgrade> StaticResourceLookup::Find(const std::string& key) {
  for (const auto& r : resources_) {
    if (r.Key() == key) return r;
  }
  return std::nullopt;
}

std::string StatusSpecToken(const SchemaUpgrade& su) { return reconcile_internal::SpecToken(su); }

std::string DependencyKey(const SchemaUpgrade& su, const DependencyRef& d) { return su.namespace_ + "/" + d.name; }

std::vector<std::string> FindDependencyCycle(const SchemaUpgrade& su, ResourceLookup* lookup) {
  const std::string start = su.Key();
  std::set<std::string> done;  // explored without finding start
  std::vector<std::string> path{start};
  // Depth-first along dependsOn edges; true when start is reached again (path then holds the cycle).
  std::function<bool(const SchemaUpgrade&)> visit = [&](const SchemaUpgrade& node) -> bool {
    for (const auto& d : node.depends_on) {
      std::string key = DependencyKey(node, d);
      if (key == start) {
        path.push_back(key);
        return true;
      }
      if (done.count(key)) continue;
      bool on_path = false;
      for (const auto& k : path) on_path |= k == key;
      if (on_path) continue;  // a cycle not through start
      std::optional<SchemaUpgrade> next = lookup ? lookup->Find(key) : std::nullopt;
      if (!next) {
        done.insert(key);
        continue;
      }
      path.push_back(key);
      if (visit(*next)) return true;
      path.pop_back();
      done.insert(key);
    }
    return false;
  };
  if (visit(su)) return path;
  return {};
}

std::string FormatCycle(const std::vector<std::string>& cycle) {
  std::string s;
  for (size_t i = 0; i < cycle.size(); ++i) s += (i ? " -> " : "") + cycle[i];
  return s;
}

bool ReadyAtTarget(const SchemaUpgrade& dep, const std::optional<ResourceStatus>& status, std::string* detail) {
  if (!status) {
    *detail = "no status yet";
    return false;
  }
  const ResourceStatus& st = *status;
  const Condition* ready = FindCondition(st, condition::kReady);
  std::string where = std::string(PhaseName(st.phase)) +
                      (st.current_version.empty() ? "" : ", database at " + st.current_version);
  if (st.spec_hash != StatusSpecToken(dep) || st.target_version != dep.target_version) {
    *detail = "its status is for " + (st.target_version.empty() ? std::string("an earlier spec")
                                                                : "target " + st.target_version) +
              " (" + where + "), not yet for its current spec";
    return false;
  }
  if (!ready || ready->status != condition_status::kTrue || ready->observed_generation != dep.generation) {
    const bool says_more = ready && !ready->reason.empty() && ready->reason != PhaseName(st.phase);
    *detail = where + (says_more ? " (" + ready->reason + ")" : "");
    return false;
  }
  *detail = "Ready at " + dep.target_version;
  return true;
}

std::vector<DependencyState> EvaluateDependencies(const SchemaUpgrade& su, ResourceLookup* lookup,
                                                  StatusStore* store) {
  std::vector<DependencyState> out;
  for (const auto& d : su.depends_on) {
    DependencyState s;
    s.key = DependencyKey(su, d);
    std::optional<SchemaUpgrade> dep = lookup ? lookup->Find(s.key) : std::nullopt;
    if (!dep) {
      s.detail = "does not exist (or is not a valid SchemaUpgrade)";
      out.push_back(std::move(s));
      continue;
    }
    s.exists = true;
    s.target = dep->target_version;
    Result<std::optional<ResourceStatus>> st = std::optional<ResourceStatus>();
    if (store) st = store->Load(s.key);
    if (!st.ok()) {
      s.detail = "its status cannot be read: " + st.status().message();
    } else {
      s.satisfied = ReadyAtTarget(*dep, *st, &s.detail);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<SchemaUpgrade> OrderByDependencies(std::vector<SchemaUpgrade> resources) {
  std::vector<SchemaUpgrade> out;
  std::vector<int> state(resources.size(), 0);  // 0 new, 1 in progress, 2 placed
  std::function<void(size_t)> place = [&](size_t i) {
    if (state[i] != 0) return;  // placed, or a cycle: the reconciler reports it
    state[i] = 1;
    for (const auto& d : resources[i].depends_on) {
      std::string key = DependencyKey(resources[i], d);
      for (size_t j = 0; j < resources.size(); ++j) {
        if (resources[j].Key() == key) place(j);
      }
    }
    state[i] = 2;
    out.push_back(resources[i]);
  };
  for (size_t i = 0; i < resources.size(); ++i) place(i);
  return out;
}

}  // namespace su
