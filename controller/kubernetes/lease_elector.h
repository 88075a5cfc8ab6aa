// LeaseElector: leader election on a coordination.k8s.io/v1 Lease with client-go's semantics
// (tools/leaderelection), behind the LeaderElector seam (controller/runtime/leader_elector.h).
//
// - Acquire: a standby reads the Lease every retry period (jittered). It takes the lease when nobody
//   holds it (holderIdentity "" after a release), when it does not exist (Create), or when the record
//   has not changed for the record's leaseDurationSeconds *as measured on this replica's monotonic
//   clock* since it last saw it change. The holder's renewTime is never compared with our clock:
//   clock skew between nodes cannot shorten or stretch a lease, only a skew *rate* could.
// - Every write is an Update carrying the resourceVersion last read: of two standbys racing for an
//   expired lease, the second gets 409 and stays standby. A takeover increments leaseTransitions;
//   a renewal keeps acquireTime and leaseTransitions.
// - Renew: the leader writes renewTime every retry period. When renewals have failed for the renew
//   deadline (a watchdog measures it even while an API call hangs), or a read shows another holder,
//   leadership is lost: LostToken() fires and never un-fires (the process is meant to exit).
// - Release (client-go's ReleaseOnCancel): holderIdentity "" and leaseDurationSeconds 1, so a standby
//   takes over on its next attempt instead of waiting for the lease to expire.
//
// Threads: WaitForLeadership's caller runs the acquire loop; once leading, a renewer thread and a
// watchdog thread run until leadership is lost, Release() or destruction (which stops renewing but
// does not release: only the caller knows the guarded work has ended). LostToken() callbacks run on
// one of those threads; they may call Release(). The step functions are public so unit tests can
// drive the algorithm with a FakeClock and no threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "controller/kubernetes/lease_options.h"
#include "controller/kubernetes/lease_record.h"
#include "controller/runtime/leader_elector.h"
#include "kube/api.h"
#include "reconcilers/base/clock.h"

namespace su {

class LeaseElector : public LeaderElector {
 public:
  // kInvalidArgument when ValidateLeaseOptions refuses options. api and clock outlive the elector.
  static Result<std::unique_ptr<LeaseElector>> Create(kube::KubeApi* api, LeaseOptions options,
                                                      Clock* clock = RealClock());
  // Stops the renewer and the watchdog; does not release the lease.
  ~LeaseElector() override;
  LeaseElector(const LeaseElector&) = delete;
  LeaseElector& operator=(const LeaseElector&) = delete;

  Status WaitForLeadership(std::stop_token stop) override;
  std::stop_token LostToken() const override { return lost_.get_token(); }
  bool IsLeader() const override;
  LeaderState State() const override;
  const std::string& Identity() const override { return options_.identity; }
  Status Release() override;

  const LeaseOptions& options() const { return options_; }
  // "ns/name" of the Lease, for logs.
  std::string LeaseKey() const { return options_.ns + "/" + options_.name; }

  // --- Steps (what the loops run; public for unit tests with a FakeClock) ---
  // One acquire attempt; on success this replica leads (no threads are started). True when leading.
  bool AcquireStep();
  // One renew attempt by the leader: success refreshes the renew time; a read showing another holder
  // loses at once; a failure past the renew deadline loses. True while still leading.
  bool RenewStep();
  // The watchdog's check: loses when the last successful renewal is renew_deadline old. True while
  // still leading.
  bool WatchdogStep();

 private:
  LeaseElector(kube::KubeApi* api, LeaseOptions options, Clock* clock);
  kube::ResourcePath Path() const;
  // client-go's tryAcquireOrRenew. Serialised by attempt_mu_.
  bool TryAcquireOrRenew();
  void Observe(const LeaseRecord& record);  // mu_ held
  void Lose(const std::string& reason);
  // Waits up to d (real time); false when stop_ or extra asked to stop.
  bool Pause(std::chrono::milliseconds d, std::stop_token extra = {});
  void RenewLoop();
  void WatchdogLoop();

  kube::KubeApi* const api_;
  const LeaseOptions options_;
  Clock* const clock_;

  std::mutex attempt_mu_;  // one API attempt at a time (acquire/renew/release)
  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  // Guarded by mu_:
  LeaseRecord observed_;                 // the record last read or written
  Clock::MonoTimePoint observed_at_{};   // when observed_ last changed, on the monotonic clock
  bool observed_any_ = false;
  std::string lease_json_;               // the Lease last read or written (base for Update)
  std::string reported_holder_;          // last holder logged
  bool leading_ = false;
  bool released_ = false;
  Clock::MonoTimePoint last_renew_{};    // last successful acquire/renew, monotonic

  std::stop_source stop_;   // Release/destruction: end loops and waits
  std::stop_source lost_;   // leadership ended
  std::thread renewer_;
  std::thread watchdog_;
};

}  // namespace su
