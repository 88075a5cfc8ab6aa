// EventRecorder: notable moments of a resource (a step started or finished, a failure), for the
// person watching it: log lines in the Podman mode (LogEventRecorder below), Kubernetes Events
// attached to the SchemaUpgrade in Kubernetes mode (controller/kubernetes/kube_event_recorder.h),
// FakeEventRecorder (tests/support/fakes) for tests.
//
// Contract: thread-safe; Record never blocks on the outside world (a worker must not wait for the
// API server to tell a story); what cannot be recorded is dropped and logged. The message is
// scrubbed of secrets by the recorder as well as by the caller.
#pragma once

#include <string>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"

namespace su {

inline constexpr const char* kEventNormal = "Normal";
inline constexpr const char* kEventWarning = "Warning";

class EventRecorder {
 public:
  virtual ~EventRecorder() = default;
  // key "namespace/name"; type kEventNormal | kEventWarning; reason CamelCase; message a sentence.
  virtual void Record(const std::string& key, const std::string& type, const std::string& reason,
                      const std::string& message) = 0;
};

// One structured log line per event (`event resource=ns/name type=... reason=... message=...`).
class LogEventRecorder : public EventRecorder {
 public:
  void Record(const std::string& key, const std::string& type, const std::string& reason,
              const std::string& message) override {
    Log(type == kEventWarning ? LogLevel::kWarn : LogLevel::kInfo, "event",
        {{"resource", key}, {"type", type}, {"reason", reason}, {"message", Scrub(message)}});
  }
};

}  // namespace su
