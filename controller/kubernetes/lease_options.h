// LeaseOptions: what the Lease elector needs, how the `--leader-election-*` flags and the pod's
// environment fill it, and the checks client-go makes on it (a config that could elect two leaders
// at once is refused before the first API call).
#pragma once

#include <chrono>
#include <string>

#include "reconcilers/base/result.h"

namespace su {

inline constexpr const char* kDefaultLeaseName = "schema-upgrade-operator";

struct LeaseOptions {
  std::string ns;                      // the Lease's namespace
  std::string name = kDefaultLeaseName;
  std::string identity;                // this replica; unique per process (MakeLeaseIdentity)
  // How long a standby waits after the lease record last changed before it takes the lease.
  std::chrono::milliseconds lease_duration{15000};
  // How long the leader keeps trying to renew before it gives leadership up.
  std::chrono::milliseconds renew_deadline{10000};
  // The pause between attempts (acquire and renew); while acquiring it is jittered x[1, 2.2) as in
  // client-go, so standbys do not hit the API in step.
  std::chrono::milliseconds retry_period{2000};
};

// The `--leader-election-*` flag values as given ("" : not given, the default applies).
struct LeaseFlags {
  std::string ns;              // --leader-election-namespace (default $POD_NAMESPACE)
  std::string id;              // --leader-election-id (the Lease's name)
  std::string lease_duration;  // --leader-election-lease-duration (15s)
  std::string renew_deadline;  // --leader-election-renew-deadline (10s)
  std::string retry_period;    // --leader-election-retry-period (2s)
};

// Parses, resolves the namespace, makes an identity (MakeLeaseIdentity) and validates. Errors
// (kInvalidArgument) name the flag.
Result<LeaseOptions> LeaseOptionsFromFlags(const LeaseFlags& flags);

// client-go's rules: renew_deadline < lease_duration (else the old leader may still act when a
// standby takes over), retry_period < renew_deadline (else one failed call loses leadership), all
// > 0, lease_duration whole seconds (the Lease stores seconds), a name and an identity. Messages
// name the flags (--leader-election-lease-duration, ...).
Status ValidateLeaseOptions(const LeaseOptions& options);

// --leader-election-namespace if given, else $POD_NAMESPACE; kInvalidArgument naming both when
// neither is set (the Lease has no sensible default namespace outside a pod).
Result<std::string> ResolveLeaseNamespace(const std::string& flag_value);

// $POD_NAME (else the host name) plus "_" and 12 random hex digits, so two replicas on one host,
// or a restarted pod, never share an identity (a shared identity would let both lead).
std::string MakeLeaseIdentity();

}  // namespace su
