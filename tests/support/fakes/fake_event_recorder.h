// FakeEventRecorder: records every event in memory for assertions. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "controller/runtime/event_recorder.h"

namespace su::testing {

class FakeEventRecorder : public EventRecorder {
 public:
  struct Event {
    std::string key, type, reason, message;
  };
  void Record(const std::string& key, const std::string& type, const std::string& reason,
              const std::string& message) override {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back({key, type, reason, message});
  }
  std::vector<Event> events() const {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }
  int Count(const std::string& reason) const {
    std::lock_guard<std::mutex> l(mu_);
    int n = 0;
    for (const auto& e : events_) n += e.reason == reason;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
};

}  // namespace su::testing
