// LeaseRecord: client-go's LeaderElectionRecord as a coordination.k8s.io/v1 Lease carries it, and the
// JSON in and out of a Lease. Times are the holder's wall clock (MicroTime, for people and kubectl):
// the elector never compares them with its own clock, it only notices whether they change.
#pragma once

#include <chrono>
#include <string>

#include "reconcilers/base/result.h"

namespace su {

struct LeaseRecord {
  std::string holder_identity;      // "" : nobody holds it (released), anyone may take it
  int lease_duration_seconds = 0;   // how long others wait after the record last changed
  std::string acquire_time;         // MicroTime text, e.g. 2026-12-01T18:40:02.123456Z
  std::string renew_time;
  long long lease_transitions = 0;  // holder changes so far

  bool operator==(const LeaseRecord&) const = default;
};

// A Lease object as read from the API: its spec as a record, its resourceVersion, and the whole JSON
// (an update sends it back with the new spec, keeping labels and annotations someone else set).
struct ObservedLease {
  LeaseRecord record;
  std::string resource_version;
  std::string json;
};

// kInvalidArgument when json is not a Lease object.
Result<ObservedLease> ParseLease(const std::string& json);

// A new Lease ns/name holding record, for Create.
std::string NewLeaseJson(const std::string& ns, const std::string& name, const LeaseRecord& record);

// base (a Lease as read) with its spec replaced by record and its resourceVersion kept, for Update:
// a stale resourceVersion makes the server answer 409, which is the whole point.
Result<std::string> UpdatedLeaseJson(const std::string& base, const LeaseRecord& record);

// MicroTime as the API writes it: RFC 3339 UTC with microseconds.
std::string FormatMicroTime(std::chrono::system_clock::time_point t);

}  // namespace su
