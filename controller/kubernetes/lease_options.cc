// Lease elector options: validation, namespace, identity (see lease_options.h).
#include "controller/kubernetes/lease_options.h"

#include <unistd.h>

#include <cstdlib>
#include <random>
#include <tuple>

#include "reconcilers/base/duration.h"

namespace su {

Status ValidateLeaseOptions(const LeaseOptions& o) {
  using std::chrono::milliseconds;
  if (o.name.empty()) return Status::Invalid("--leader-election-id must not be empty");
  if (o.ns.empty()) return Status::Invalid("the Lease needs a namespace: pass --leader-election-namespace or set POD_NAMESPACE");
  if (o.identity.empty()) return Status::Invalid("leader election needs an identity");
  if (o.lease_duration < milliseconds(1000) || o.lease_duration.count() % 1000 != 0)
    return Status::Invalid("--leader-election-lease-duration must be a whole number of seconds, at least 1s (the Lease stores seconds), not " +
                           FormatDuration(o.lease_duration));
  if (o.renew_deadline <= milliseconds(0)) return Status::Invalid("--leader-election-renew-deadline must be positive");
  if (o.retry_period <= milliseconds(0)) return Status::Invalid("--leader-election-retry-period must be positive");
  if (o.renew_deadline >= o.lease_duration)
    return Status::Invalid("--leader-election-renew-deadline (" + FormatDuration(o.renew_deadline) +
                           ") must be shorter than --leader-election-lease-duration (" + FormatDuration(o.lease_duration) +
                           "): a leader must give up before a standby may take over");
  if (o.retry_period >= o.renew_deadline)
    return Status::Invalid("--leader-election-retry-period (" + FormatDuration(o.retry_period) +
                           ") must be shorter than --leader-election-renew-deadline (" + FormatDuration(o.renew_deadline) +
                           "): the leader needs more than one attempt to renew");
  return Status::Ok();
}

Result<LeaseOptions> LeaseOptionsFromFlags(const LeaseFlags& flags) {
  LeaseOptions o;
  auto ns = ResolveLeaseNamespace(flags.ns);
  if (!ns.ok()) return ns.status();
  o.ns = *ns;
  if (!flags.id.empty()) o.name = flags.id;
  for (auto [flag, text, out] : {std::tuple{"--leader-election-lease-duration", &flags.lease_duration, &o.lease_duration},
                                 std::tuple{"--leader-election-renew-deadline", &flags.renew_deadline, &o.renew_deadline},
                                 std::tuple{"--leader-election-retry-period", &flags.retry_period, &o.retry_period}}) {
    if (text->empty()) continue;
    auto d = ParseDuration(*text);
    if (!d.ok()) return d.status().WithContext(flag);
    *out = *d;
  }
  o.identity = MakeLeaseIdentity();
  if (Status s = ValidateLeaseOptions(o); !s.ok()) return s;
  return o;
}

Result<std::string> ResolveLeaseNamespace(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv("POD_NAMESPACE");
  if (env != nullptr && *env != '\0') return std::string(env);
  return Status::Invalid("--leader-elect needs the Lease's namespace: pass --leader-election-namespace NS "
                         "or set POD_NAMESPACE (the Deployment sets it from metadata.namespace)");
}

std::string MakeLeaseIdentity() {
  std::string base;
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') {
    base = pod;
  } else {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') base = host;
    if (base.empty()) base = "schema-upgrade";
  }
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string suffix;
  for (int i = 0; i < 12; ++i) suffix += "0123456789abcdef"[hex(rd)];
  return base + "_" + suffix;
}

}  // namespace su
