// Leadership: the controller's life under a LeaderElector (leader_elector.h), the same for every
// mode. RunWhileLeading waits for leadership (the source keeps its cache warm meanwhile, so a
// takeover starts from synced state), starts the workers, and ends them on the first of shutdown or
// lost leadership:
//
// - Shutdown (SIGTERM): workers stop gracefully (steps in flight see Cancelled() and abandon, as
//   before), then the lease is released so a standby takes over at once. Exit 0.
// - Lost leadership: Cancelled() turns true at once, so no new step starts and *the statement in
//   flight is cancelled* (the pass's stopper calls PQcancel; its migration's transaction rolls back
//   and is applied again by the new leader). We cancel rather than let it end because a leader only
//   loses the lease when it could not renew for renewDeadline, and the new leader starts
//   leaseDuration - renewDeadline later (5 s with client-go's defaults): a statement left running
//   (minutes, for an index build) would still be writing status and history long after the new
//   leader started. Cancelling ends our work inside that margin. If the cancel cannot reach the
//   database, the migration advisory lock (a session lock) still keeps the new leader from running
//   the same migration until our session ends: no migration runs twice either way. The lease is not
//   released (it is not ours); the process exits 1 so the Deployment restarts it as a standby.
#pragma once

#include <functional>
#include <stop_token>
#include <string>

#include "controller/runtime/leader_elector.h"
#include "reconcilers/base/result.h"

namespace su {

class Metrics;

enum class LeadershipEnd {
  kStoppedBeforeLeading,  // shutdown while standby: exit 0
  kShutdown,              // shutdown while leading: workers stopped, lease released: exit 0
  kLostLeadership,        // workers stopped, not released: exit 1
  kStartFailed,           // start_workers (or the elector) failed: exit 1 (the lease is released)
};

struct LeadershipHooks {
  std::function<Status()> start_workers;  // called once, when leading
  std::function<void()> stop_workers;     // graceful; in-flight steps must poll Cancelled()
};

// Blocks until the run ends (see the header comment). shutdown: the process's stop token.
LeadershipEnd RunWhileLeading(LeaderElector* elector, std::stop_token shutdown, const LeadershipHooks& hooks);

// The process exit code for an end (0, or 1 for a lost lease or failed start).
int ExitCodeFor(LeadershipEnd end);

// What the reconciler's deps.cancelled should return: shutdown requested or leadership lost.
std::function<bool()> LeadershipCancelled(const LeaderElector* elector, std::stop_token shutdown);

// /metrics: leader{identity} (1 while this replica leads, else 0) and lease_transitions (the
// Lease's leaseTransitions as last observed), read at render time.
void ExportLeaderMetrics(Metrics* metrics, const LeaderElector* elector);

// /readyz: a standby is ready (it is healthy and could take over; a Deployment rollout waits for
// new pods to be Ready, and a standby that never were would stall it); a replica that lost the
// lease is not (it is about to exit).
bool LeadershipReady(const LeaderElector& elector);

}  // namespace su
