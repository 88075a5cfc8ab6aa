// FakeMigrationWatch: a MigrationWatch whose blocked-session reports and cancellation are driven
// by the test (through the callbacks the reconciler hands to Start), never by a database.
#pragma once

#include <functional>
#include <vector>

#include "reconcilers/schemaupgrade/reconciler.h"

namespace su::testing {

struct FakeWatchState {
  std::vector<int> started_pids;
  int stops = 0;
  std::function<void(const std::vector<BlockedSession>&)> on_blocked;
  std::function<void()> cancel;
  bool cancelled = false;
  Status start_error;  // returned by every Start (ok: the watch starts)
  // Plays the watcher: reports `sessions`, and cancels the migration when cancel_it.
  void Report(const std::vector<BlockedSession>& sessions, bool cancel_it) {
    if (on_blocked) on_blocked(sessions);
    if (cancel_it && cancel) {
      cancelled = true;
      cancel();
    }
  }
};

class FakeMigrationWatch : public MigrationWatch {
 public:
  explicit FakeMigrationWatch(FakeWatchState* s) : s_(s) {}
  Status Start(int pid, std::chrono::milliseconds, std::function<void(const std::vector<BlockedSession>&)> on_blocked,
               std::function<void()> cancel) override {
    if (!s_->start_error.ok()) return s_->start_error;
    s_->started_pids.push_back(pid);
    s_->on_blocked = std::move(on_blocked);
    s_->cancel = std::move(cancel);
    return Status::Ok();
  }
  void Stop() override { ++s_->stops; }
  bool Cancelled() const override { return s_->cancelled; }

 private:
  FakeWatchState* s_;
};

}  // namespace su::testing
