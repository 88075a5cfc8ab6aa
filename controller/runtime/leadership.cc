// The controller's life under a LeaderElector (see leadership.h).
#include "controller/runtime/leadership.h"

#include <condition_variable>
#include <mutex>

#include "controller/runtime/metrics.h"
#include "reconcilers/base/log.h"

namespace su {

LeadershipEnd RunWhileLeading(LeaderElector* elector, std::stop_token shutdown, const LeadershipHooks& hooks) {
  Status waited = elector->WaitForLeadership(shutdown);
  if (!waited.ok()) {
    if (waited.code() != Code::kCancelled) {
      LogError("leader.wait_failed", {{"identity", elector->Identity()}, {"error", waited.ToString()}});
      return LeadershipEnd::kStartFailed;
    }
    LogInfo("leader.standby_stopped", {{"identity", elector->Identity()}, {"reason", waited.message()}});
    return LeadershipEnd::kStoppedBeforeLeading;
  }
  LogInfo("leader.started_leading", {{"identity", elector->Identity()}});
  if (Status s = hooks.start_workers(); !s.ok()) {
    LogError("controller.start_failed", {{"error", s.ToString()}});
    (void)elector->Release();
    return LeadershipEnd::kStartFailed;
  }

  std::stop_token lost = elector->LostToken();
  {
    // One token for "lost or shut down", waited on with the stop_token overload: it registers its
    // wakeup atomically with the wait. (A callback calling notify_all without the waiter's mutex
    // could fire between the predicate check and the block, and the wait would never end.)
    std::stop_source either;
    std::stop_callback on_lost(lost, [&either] { either.request_stop(); });
    std::stop_callback on_shutdown(shutdown, [&either] { either.request_stop(); });
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, either.get_token(), [] { return false; });
  }
  const bool was_lost = lost.stop_requested() && !shutdown.stop_requested();
  if (was_lost) {
    LogError("leader.stopping_workers", {{"identity", elector->Identity()},
                                         {"next", "steps in flight are cancelled; exiting 1 to restart as a standby"}});
  }
  hooks.stop_workers();
  if (was_lost) return LeadershipEnd::kLostLeadership;
  // Released only after the workers ended: releasing earlier would let a successor start while a
  // step of ours still runs.
  (void)elector->Release();
  return LeadershipEnd::kShutdown;
}

int ExitCodeFor(LeadershipEnd end) {
  switch (end) {
    case LeadershipEnd::kStoppedBeforeLeading:
    case LeadershipEnd::kShutdown:
      return 0;
    case LeadershipEnd::kLostLeadership:
    case LeadershipEnd::kStartFailed:
      return 1;
  }
  return 1;
}

std::function<bool()> LeadershipCancelled(const LeaderElector* elector, std::stop_token shutdown) {
  std::stop_token lost = elector->LostToken();
  return [lost, shutdown] { return shutdown.stop_requested() || lost.stop_requested(); };
}

void ExportLeaderMetrics(Metrics* metrics, const LeaderElector* elector) {
  metrics->Describe("leader", "1 while this replica holds the leader election lease, else 0.");
  metrics->Describe("lease_transitions", "The leader election Lease's leaseTransitions as last observed.");
  metrics->SetGaugeFunc("leader", {{"identity", elector->Identity()}},
                        [elector] { return elector->IsLeader() ? 1.0 : 0.0; });
  metrics->SetGaugeFunc("lease_transitions", {},
                        [elector] { return static_cast<double>(elector->State().transitions); });
}

bool LeadershipReady(const LeaderElector& elector) {
  return !elector.LostToken().stop_requested();
}

}  // namespace su
