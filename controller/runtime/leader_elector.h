// LeaderElector: decides whether this replica may reconcile. The controller waits for leadership
// before its workers take keys, stops starting new steps as soon as LostToken() fires, and calls
// Release() once the work guarded by leadership has ended (SIGTERM), so a successor need not wait for
// the lease to expire. Implementations: AlwaysLeader below (a single controller: the Podman mode and
// `--kubernetes` without `--leader-elect`), the coordination.k8s.io/v1 Lease elector
// (controller/kubernetes/lease_elector.h), FakeLeaderElector (tests/support/fakes) for unit tests.
//
// Contract for every implementation: thread-safe; leadership is won at most once per object (a
// replica that lost it exits and is restarted, as client-go's OnStoppedLeading advises), so
// LostToken() fires at most once and stays fired.
#pragma once

#include <mutex>
#include <stop_token>
#include <string>
#include <utility>

#include "reconcilers/base/result.h"

namespace su {

// What a replica knows about the election, for /metrics, /readyz and logs.
struct LeaderState {
  std::string identity;        // this replica
  bool leading = false;
  std::string holder;          // holder last observed on the lease ("" : none observed or released)
  long long transitions = 0;   // the lease's leaseTransitions as last observed (0 for AlwaysLeader)
};

class LeaderElector {
 public:
  virtual ~LeaderElector() = default;

  // Blocks until this replica leads (Ok) or stop is requested (kCancelled). API errors on the way
  // are logged and retried every retry period (client-go's behaviour: a standby rides out an API
  // outage); a configuration error found before the first attempt is kInvalidArgument.
  virtual Status WaitForLeadership(std::stop_token stop) = 0;

  // Fires when leadership ends after WaitForLeadership returned Ok: renewals failed for the renew
  // deadline, another replica took the lease, or Release() was called. Use std::stop_callback on it
  // to react at once; never fires before leadership was won.
  virtual std::stop_token LostToken() const = 0;

  virtual bool IsLeader() const = 0;
  virtual LeaderState State() const = 0;
  virtual const std::string& Identity() const = 0;

  // Stops renewing and, when leading, gives the lease up (holderIdentity cleared) so a successor
  // takes over at once; fires LostToken(). Call only after the guarded work has stopped, else two
  // replicas may act at once. Idempotent. An error (the API unreachable) only means the successor
  // waits for the lease to expire.
  virtual Status Release() = 0;
};

// Today's behaviour: the only replica, leading from the start until Release().
class AlwaysLeader : public LeaderElector {
 public:
  explicit AlwaysLeader(std::string identity = "local") : identity_(std::move(identity)) {}

  Status WaitForLeadership(std::stop_token stop) override {
    if (stop.stop_requested()) return Status::Error(Code::kCancelled, "stopped before leading");
    std::lock_guard<std::mutex> l(mu_);
    if (!released_) leading_ = true;
    return leading_ ? Status::Ok() : Status::Error(Code::kCancelled, "released");
  }
  std::stop_token LostToken() const override { return lost_.get_token(); }
  bool IsLeader() const override {
    std::lock_guard<std::mutex> l(mu_);
    return leading_;
  }
  LeaderState State() const override {
    std::lock_guard<std::mutex> l(mu_);
    return {identity_, leading_, leading_ ? identity_ : "", 0};
  }
  const std::string& Identity() const override { return identity_; }
  Status Release() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      released_ = true;
      if (!leading_) return Status::Ok();
      leading_ = false;
    }
    lost_.request_stop();
    return Status::Ok();
  }

 private:
  const std::string identity_;
  mutable std::mutex mu_;
  bool leading_ = false;   // guarded by mu_
  bool released_ = false;  // guarded by mu_
  std::stop_source lost_;
};

}  // namespace su
