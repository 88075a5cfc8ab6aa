// RunController: the `controller` command's loop, the same for both modes; cmd_controller.cc only
// builds the mode's parts (source, status store, event recorder, leader elector) and hands them in.
//   source -> handler (changed: Enqueue, resynced: Resync, removed: Remove) -> the Manager's workers
//   -> per key: the source's object; one that fails validation (or `admit`) goes Stalled
//      (ReportInvalidSpec) and nothing runs; otherwise the status is seeded when there is none
//      (the pass seeds it: ReconcileOptions::seed_status) and the reconciler runs one pass.
// The workers start once this replica leads (always, without leader election); the source starts
// at once so its cache is warm. Ends on SIGTERM/SIGINT (0) or when leadership is lost (1: the
// Deployment restarts the replica); steps in flight abandon first (a lost lease cancels the
// statement in flight at once), then, on SIGTERM only, the elector releases the lease
// (controller/runtime/leadership.h says why).
#pragma once

#include <functional>
#include <string>

#include "controller/cli/cli_env.h"
#include "controller/runtime/event_recorder.h"
#include "controller/runtime/leader_elector.h"
#include "controller/runtime/metrics.h"
#include "controller/runtime/resource_source.h"
#include "controller/runtime/signals.h"

namespace su {

struct ControllerParts {
  CliEnv* env = nullptr;               // deps (env->deps.store is the status sink)
  ResourceSource* source = nullptr;
  EventRecorder* events = nullptr;
  LeaderElector* elector = nullptr;    // null: always leader
  Metrics* metrics = nullptr;
  ShutdownSignal* stop = nullptr;
  int workers = 2;
  // phase{resource,phase}: one /metrics series per resource (--metrics-per-resource). Off: only
  // bounded families (resources{phase}, reconcile_results_total{result}).
  bool per_resource_metrics = false;
  // Mode-specific refusal of a valid resource (Kubernetes mode: what needs the part-2 runtime);
  // an error is reported as InvalidSpec. May be empty.
  std::function<Status(const SchemaUpgrade&)> admit;
  std::function<void(const std::string& key)> on_removed;  // may be empty
  std::function<void()> on_started;                        // workers running (e.g. ready = true)
};

int RunController(ControllerParts& parts);

}  // namespace su
