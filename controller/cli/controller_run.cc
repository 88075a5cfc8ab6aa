// RunController (see controller_run.h).
#include "controller/cli/controller_run.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "controller/runtime/leadership.h"
#include "controller/runtime/manager.h"
#include "controller/runtime/memory_trim.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/schemaupgrade/dependencies.h"
#include "reconcilers/schemaupgrade/status_seed.h"

namespace su {
namespace {

// spec.dependsOn reads the other resources' desired state from the same source the workers use
// (the manifests folder or the informer's cache); their status comes from the status store.
class SourceLookup : public ResourceLookup {
 public:
  explicit SourceLookup(ResourceSource* source) : source_(source) {}
  std::optional<SchemaUpgrade> Find(const std::string& key) override {
    auto got = source_->Get(key);
    if (!got || !got->resource.ok()) return std::nullopt;
    return *got->resource;
  }

 private:
  ResourceSource* source_;
};

// Who depends on whom, as last seen by a pass (only resources with spec.dependsOn are kept): a
// change or a finished pass of a resource queues its dependents, so a dependent waiting for it
// (or stalled on a cycle through it) is looked at again promptly, not only at its next requeue.
class DependentsIndex {
 public:
  void Set(const SchemaUpgrade& su) {
    std::vector<std::string> deps;
    for (const auto& d : su.depends_on) deps.push_back(DependencyKey(su, d));
    std::lock_guard<std::mutex> l(mu_);
    if (deps.empty()) {
      deps_of_.erase(su.Key());
    } else {
      deps_of_[su.Key()] = std::move(deps);
    }
  }
  void Forget(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    deps_of_.erase(key);
  }
  std::vector<std::string> DependentsOf(const std::string& key) const {
    std::vector<std::string> out;
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [k, deps] : deps_of_) {
      for (const auto& d : deps) {
        if (d == key) out.push_back(k);
      }
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> deps_of_;  // guarded by mu_
};

}  // namespace

int RunController(ControllerParts& p) {
  CliEnv& env = *p.env;
  Metrics& metrics = *p.metrics;
  AlwaysLeader always;
  LeaderElector* elector = p.elector ? p.elector : &always;
  StatusStore* store = env.deps.store;
  Clock* clock = env.deps.clock;
  EventRecorder* events = p.events;
  env.deps.on_event = [events](const std::string& key, const std::string& type, const std::string& reason,
                               const std::string& message) { events->Record(key, type, reason, message); };
  // Shutdown or a lost lease: no new step starts, the statement in flight is cancelled (leadership.h).
  env.deps.cancelled = LeadershipCancelled(elector, p.stop->Token());
  ExportLeaderMetrics(&metrics, elector);
  metrics.Describe("resources", "Resources by the phase of their last pass (every phase listed, 0 when none).");
  metrics.Describe("reconcile_results_total",
                   "Reconcile passes by how they ended: succeeded, waiting, retrying, failed, invalid.");
  if (p.per_resource_metrics) {
    metrics.Describe("phase", "1 for the current phase of each resource (the only series of that resource).");
  }
  SourceLookup lookup(p.source);
  DependentsIndex dependents;
  Manager* manager_ptr = nullptr;  // set once the manager exists; workers start after that
  env.deps.resources = &lookup;
  Reconciler reconciler(env.deps);
  // Bounded by default: resources{phase} counts resources per phase (twelve series whatever their
  // number). phase{resource,phase} (one series per resource, its current phase) only with
  // --metrics-per-resource; a pass that leaves the phase as it was touches nothing.
  std::mutex phase_mu;
  // By the key's 64-bit hash, not the key: ~40 bytes per resource instead of ~110 (10,000 of them
  // in folder mode). Two keys sharing a hash (odds ~1e-11 at 10,000) would only skew the counts.
  std::unordered_map<size_t, Phase> phase_shown;  // guarded by phase_mu
  auto phase_key = [](const std::string& key) { return std::hash<std::string>()(key); };
  auto phase_series = [](const std::string& key, Phase ph) -> MetricLabels {
    return {{"resource", key}, {"phase", PhaseName(ph)}};
  };
  for (Phase ph : kAllPhases) {
    metrics.SetGauge("resources", {{"phase", PhaseName(ph)}}, 0);
  }
  auto ShowPhase = [&](const std::string& key, Phase ph) {
    std::lock_guard<std::mutex> l(phase_mu);
    auto [it, added] = phase_shown.emplace(phase_key(key), ph);
    if (!added && it->second == ph) return;
    if (!added) {
      metrics.AddGauge("resources", {{"phase", PhaseName(it->second)}}, -1);
      if (p.per_resource_metrics) metrics.RemoveSeries("phase", phase_series(key, it->second));
    }
    it->second = ph;
    metrics.AddGauge("resources", {{"phase", PhaseName(ph)}}, 1);
    if (p.per_resource_metrics) metrics.SetGauge("phase", phase_series(key, ph), 1);
  };
  auto ForgetPhase = [&](const std::string& key) {
    std::lock_guard<std::mutex> l(phase_mu);
    auto it = phase_shown.find(phase_key(key));
    if (it == phase_shown.end()) return;
    metrics.AddGauge("resources", {{"phase", PhaseName(it->second)}}, -1);
    if (p.per_resource_metrics) metrics.RemoveSeries("phase", phase_series(key, it->second));
    phase_shown.erase(it);
  };

  auto invalid = [&](const std::string& key, long long generation, const Status& why) {
    auto wrote = ReportInvalidSpec(store, key, generation, why, clock);
    if (!wrote.ok()) {
      LogError("status.save_failed", {{"resource", key}, {"error", wrote.status().ToString()}});
    } else if (*wrote) {
      events->Record(key, kEventWarning, kReasonInvalidSpec, Scrub(why.message()));
      LogWarn("resource.invalid", {{"resource", key}, {"generation", std::to_string(generation)},
                                   {"error", Scrub(why.message())}});
    }
    metrics.IncCounter("reconcile_results_total", {{"result", "invalid"}});
    return ReconcileResult{};
  };

  MemoryTrimmer trimmer;  // after a pass, at most every 30 s: the start-up burst's free pages go back
  ManagerOptions mopt;
  mopt.workers = p.workers;
  mopt.metrics = &metrics;
  Manager manager(
      [&](const std::string& key) -> Result<ReconcileResult> {
        auto got = p.source->Get(key);
        if (!got) return ReconcileResult{};  // gone from the source; status stays as the record
        if (!got->resource.ok()) return invalid(key, got->generation, got->resource.status());
        SchemaUpgrade su = *got->resource;
        dependents.Set(su);
        ApplyCliDefaults(env, &su);
        if (p.admit) {
          if (Status a = p.admit(su); !a.ok()) return invalid(key, got->generation, a);
        }
        // A resource seen for the first time gets its Pending status before the pass connects
        // (the pass seeds it: one status read per pass).
        ReconcileOptions ropt;
        ropt.seed_status = true;
        auto out = reconciler.Reconcile(su, ropt);
        ShowPhase(key, out.status.phase);
        // The manager's reconciles_total counts callback outcomes, and this callback never fails
        // (the reconciler owns retries); this counter says how the pass itself ended.
        metrics.IncCounter("reconcile_results_total", {{"result", OutcomeKindName(out.kind)}});
        // Ready (or at least converged for this pass): whoever waits for it looks again now.
        if (out.kind == OutcomeKind::kSucceeded) {
          for (const auto& d : dependents.DependentsOf(key)) manager_ptr->Enqueue(d);
        }
        trimmer.MaybeTrim();
        ReconcileResult r;
        r.requeue_after = out.requeue_after;
        return r;
      },
      mopt);
  manager_ptr = &manager;

  ResourceHandler handler;
  handler.changed = [&](const std::string& key) {
    manager.Enqueue(key);
    // A dependency edited, created or deleted: its dependents' wait (or cycle) may be over.
    for (const auto& d : dependents.DependentsOf(key)) manager.Enqueue(d);
  };
  handler.resynced = [&](const std::string& key) { manager.Resync(key); };
  handler.removed = [&](const std::string& key) {
    LogInfo("resource.removed", {{"resource", key}});
    manager.Remove(key);
    for (const auto& d : dependents.DependentsOf(key)) manager.Enqueue(d);
    dependents.Forget(key);
    ForgetPhase(key);
    if (env.deps.observations) env.deps.observations->Drop(key);
    if (p.on_removed) p.on_removed(key);
  };
  if (Status s = p.source->Start(handler); !s.ok()) {
    LogError("controller.failed", {{"error", s.ToString()}});
    return ExitCodeFor(s);
  }

  // Standby until leading (the source keeps the cache warm meanwhile); then the workers run until
  // SIGTERM (stop them, release the lease: exit 0) or a lost lease (stop them: exit 1).
  LeadershipHooks hooks;
  hooks.start_workers = [&]() -> Status {
    if (Status s = manager.Start(); !s.ok()) return s;
    LogInfo("controller.started", {{"source", p.source->Describe()}, {"workers", std::to_string(p.workers)},
                                   {"identity", elector->Identity()}});
    if (p.on_started) p.on_started();
    return Status::Ok();
  };
  hooks.stop_workers = [&] {
    LogInfo("controller.stopping", {{"signal", std::to_string(p.stop->Signal())},
                                    {"lost_leadership", p.stop->StopRequested() ? "false" : "true"}});
    p.source->Stop();
    manager.Stop();
  };
  LeadershipEnd end = RunWhileLeading(elector, p.stop->Token(), hooks);
  p.source->Stop();  // idempotent; RunWhileLeading did not stop it when it never led
  return ExitCodeFor(end);
}

}  // namespace su
