// VerifyRunning (see verify.h): a polling loop over WorkloadRuntime::Observe.
#include "reconcilers/runtimes/podman/verify.h"

#include <algorithm>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/runtimes/image_ref.h"

namespace su {
namespace {

std::string Describe(const WorkloadRef& w) {
  std::string s = w.kind + " " + w.name;
  if (!w.compose_file.empty()) s += " (" + w.compose_file + ")";
  return s;
}

Status Failure(WorkloadRuntime* rt, const WorkloadRef& w, Code code, const std::string& what,
               const VerifyOptions& o) {
  std::string msg = Describe(w) + ": " + what + ".";
  Result<std::string> logs = rt->Logs(w, o.log_lines);
  if (logs.ok()) {
    std::string l = *logs;
    while (!l.empty() && l.back() == '\n') l.pop_back();
    msg += l.empty() ? " The container wrote no logs." : " Last " + std::to_string(o.log_lines) + " log lines:\n" + l + "\n";
  } else {
    msg += " (Logs unavailable: " + logs.status().message() + ")";
  }
  // No advice about policy.onFailure here: the runtime does not know the policy, and with
  // rollbackImage already set the advice read as if it were not (status.failureAction says what ran).
  // Nor `podman logs <container>`: after rollbackImage that container runs the old image, and its
  // logs are not the failed one's. The lines quoted here are kept in status (lastError).
  msg += " Next: read the failed container's log lines quoted above (kept in the resource's status: "
         "`schema-upgrade status`, lastError), fix the image or its configuration, then ask for a new attempt: "
         "a failed upgrade is not retried on its own; the controller tries again when the spec changes, when the "
         "olympus.io/retry annotation gets a new value, or on `schema-upgrade apply`.";
  return Status::Error(code, Scrub(msg));
}

}  // namespace

Status VerifyRunning(WorkloadRuntime* rt, const WorkloadRef& w, const std::string& expected_image,
                     const VerifyOptions& o, Clock* clock) {
  const Clock::MonoTimePoint start = clock->MonotonicNow();  // the settle time is a duration
  const auto interval = std::max(std::chrono::milliseconds(1), std::min(o.poll_interval, o.settle));
  int first_restarts = -1;
  for (;;) {
    Result<WorkloadStatus> r = rt->Observe(w);
    if (!r.ok()) return r.status().WithContext("verify " + Describe(w));
    const WorkloadStatus& st = *r;
    if (!st.exists) return Failure(rt, w, Code::kFailed, "no container exists", o);
    if (!SameImage(expected_image, st.image)) {
      return Failure(rt, w, Code::kFailed, "the container runs image " + st.image + ", expected " + expected_image, o);
    }
    if (!st.running) {
      return Failure(rt, w, Code::kFailed,
                     "the container is not running (state " + st.state + ", exit code " + std::to_string(st.exit_code) + ")", o);
    }
    if (first_restarts < 0) first_restarts = st.restart_count;
    if (st.restart_count > first_restarts) {
      return Failure(rt, w, Code::kFailed,
                     "the container restarted " + std::to_string(st.restart_count - first_restarts) + " time(s) while settling", o);
    }
    if (st.health == "unhealthy") return Failure(rt, w, Code::kFailed, "the container's health check reports unhealthy", o);

    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock->MonotonicNow() - start);
    if (elapsed >= o.settle) {
      if (st.health.empty() || st.health == "healthy") {
        LogInfo("verify_ok", {{"workload", w.name}, {"image", st.image}, {"health", st.health.empty() ? "none" : st.health}});
        return Status::Ok();
      }
      if (elapsed >= o.settle + o.health_grace) {
        return Failure(rt, w, Code::kTimeout, "the health check still reports \"" + st.health + "\" after " +
                                                  std::to_string(elapsed.count()) + " ms", o);
      }
    }
    clock->SleepFor(interval);
  }
}

Status VerifyRunning(WorkloadRuntime* rt, const WorkloadRef& w, const std::string& expected_image,
                     std::chrono::milliseconds settle, Clock* clock) {
  VerifyOptions o;
  o.settle = settle;
  return VerifyRunning(rt, w, expected_image, o, clock);
}

}  // namespace su
