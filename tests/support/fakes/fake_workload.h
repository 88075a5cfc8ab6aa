// FakeWorkloadRuntime: a WorkloadRuntime over one in-memory workload (declared image, running
// image), for reconciler tests. Rollout makes the running image the declared one, as
// `podman-compose up -d` would. Errors are scripted per call; every change is counted.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "reconcilers/runtimes/runtime.h"

namespace su::testing {

class FakeWorkloadRuntime : public WorkloadRuntime {
 public:
  std::string declared;
  std::string running_image;
  bool running = true;
  std::deque<Status> declared_errors;  // front consumed per DeclaredImage call
  std::deque<Status> set_errors;       // per SetDeclaredImage call
  std::deque<Status> rollout_errors;   // per Rollout call
  std::vector<std::string>* journal = nullptr;  // "set-image:<img>", "rollout" appended when set
  std::function<void()> on_rollout;   // runs at the start of each Rollout (to observe state)

  std::vector<std::string> set_calls;  // images passed to SetDeclaredImage
  int rollouts = 0;
  int observes = 0;

  Result<std::string> DeclaredImage(const WorkloadRef&) override {
    if (Status s = Pop(declared_errors); !s.ok()) return s;
    return declared;
  }
  Status SetDeclaredImage(const WorkloadRef&, const std::string& image) override {
    set_calls.push_back(image);
    if (journal) journal->push_back("set-image:" + image);
    if (Status s = Pop(set_errors); !s.ok()) return s;
    declared = image;
    return Status::Ok();
  }
  Status Rollout(const WorkloadRef&) override {
    ++rollouts;
    if (on_rollout) on_rollout();
    if (journal) journal->push_back("rollout");
    if (Status s = Pop(rollout_errors); !s.ok()) return s;
    running_image = declared;
    running = true;
    return Status::Ok();
  }
  Result<WorkloadStatus> Observe(const WorkloadRef&) override {
    ++observes;
    WorkloadStatus ws;
    ws.exists = true;
    ws.running = running;
    ws.image = running_image;
    ws.state = running ? "running" : "exited";
    return ws;
  }
  Result<std::string> Logs(const WorkloadRef&, int) override { return std::string("fake log line\n"); }

 private:
  static Status Pop(std::deque<Status>& q) {
    if (q.empty()) return Status::Ok();
    Status s = q.front();
    q.pop_front();
    return s;
  }
};

}  // namespace su::testing
