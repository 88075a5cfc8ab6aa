// VerifyRunning: after a rollout, the workload must run the expected image and keep running (and be
// healthy when it has a health check) for a settle time. Polls through the WorkloadRuntime and the
// Clock only, so unit tests drive it with fakes and a FakeClock without sleeping.
#pragma once

#include <chrono>
#include <string>

#include "reconcilers/base/clock.h"
#include "reconcilers/runtimes/runtime.h"

namespace su {

struct VerifyOptions {
  std::chrono::milliseconds settle{5000};
  // Time between observations (clamped to settle when settle is shorter).
  std::chrono::milliseconds poll_interval{1000};
  // How long after the settle time a health check may still report "starting".
  std::chrono::milliseconds health_grace{60000};
  int log_lines = 20;  // log lines quoted in a failure
};

// Ok when, for the whole settle time from the first observation, the container exists, runs an
// image SameImage() as expected_image, has not restarted, is not unhealthy, and at the end is
// healthy (or has no health check). Fails early (kFailed) on the first observation that breaks
// one of these: wrong image, exited, restarted, unhealthy. kTimeout when the health check is still
// "starting" after settle + health_grace. A failure's message names the workload, says what was
// seen, quotes the last log lines, and says what to do next. Errors observing the workload
// (kUnavailable, ...) are returned as they are.
Status VerifyRunning(WorkloadRuntime* runtime, const WorkloadRef& w, const std::string& expected_image,
                     const VerifyOptions& options, Clock* clock);
Status VerifyRunning(WorkloadRuntime* runtime, const WorkloadRef& w, const std::string& expected_image,
                     std::chrono::milliseconds settle, Clock* clock);

}  // namespace su
