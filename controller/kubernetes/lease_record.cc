// Lease JSON codec (see lease_record.h). cpprestsdk's JSON stays in this file.
#include "controller/kubernetes/lease_record.h"

#include <cpprest/json.h>

#include <cstdio>
#include <ctime>

namespace su {
namespace {

using web::json::value;

void SetSpec(value* spec, const LeaseRecord& r) {
  (*spec)["holderIdentity"] = value::string(r.holder_identity);
  (*spec)["leaseDurationSeconds"] = value::number(r.lease_duration_seconds);
  (*spec)["acquireTime"] = r.acquire_time.empty() ? value::null() : value::string(r.acquire_time);
  (*spec)["renewTime"] = r.renew_time.empty() ? value::null() : value::string(r.renew_time);
  (*spec)["leaseTransitions"] = value::number(static_cast<int64_t>(r.lease_transitions));
}

}  // namespace

Result<ObservedLease> ParseLease(const std::string& json) {
  try {
    value v = value::parse(json);
    if (!v.is_object() || !v.has_object_field("metadata")) return Status::Invalid("Lease has no metadata");
    ObservedLease out;
    out.json = json;
    const auto& m = v.at("metadata");
    if (m.has_string_field("resourceVersion")) out.resource_version = m.at("resourceVersion").as_string();
    if (v.has_object_field("spec")) {
      const auto& s = v.at("spec");
      if (s.has_string_field("holderIdentity")) out.record.holder_identity = s.at("holderIdentity").as_string();
      if (s.has_number_field("leaseDurationSeconds"))
        out.record.lease_duration_seconds = s.at("leaseDurationSeconds").as_number().to_int32();
      if (s.has_string_field("acquireTime")) out.record.acquire_time = s.at("acquireTime").as_string();
      if (s.has_string_field("renewTime")) out.record.renew_time = s.at("renewTime").as_string();
      if (s.has_number_field("leaseTransitions"))
        out.record.lease_transitions = s.at("leaseTransitions").as_number().to_int64();
    }
    return out;
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("Lease is not valid JSON: ") + e.what());
  }
}

std::string NewLeaseJson(const std::string& ns, const std::string& name, const LeaseRecord& record) {
  value v = value::object();
  v["apiVersion"] = value::string("coordination.k8s.io/v1");
  v["kind"] = value::string("Lease");
  v["metadata"] = value::object();
  v["metadata"]["name"] = value::string(name);
  v["metadata"]["namespace"] = value::string(ns);
  v["spec"] = value::object();
  SetSpec(&v["spec"], record);
  return v.serialize();
}

Result<std::string> UpdatedLeaseJson(const std::string& base, const LeaseRecord& record) {
  try {
    value v = value::parse(base);
    if (!v.is_object() || !v.has_object_field("metadata")) return Status::Invalid("Lease has no metadata");
    if (!v.has_object_field("spec")) v["spec"] = value::object();
    SetSpec(&v["spec"], record);
    return v.serialize();
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("Lease is not valid JSON: ") + e.what());
  }
}

std::string FormatMicroTime(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  long frac = static_cast<long>(us % 1000000);
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

}  // namespace su
