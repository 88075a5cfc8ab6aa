// FakeLeaderElector: a LeaderElector (controller/runtime/leader_elector.h) driven by the test.
// WaitForLeadership blocks until Grant() or the stop token; Lose() ends leadership as a failed renewal
// or a takeover would; Release() is counted. Thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>

#include "controller/runtime/leader_elector.h"

namespace su::testing {

class FakeLeaderElector : public LeaderElector {
 public:
  explicit FakeLeaderElector(std::string identity = "fake-0") : identity_(std::move(identity)) {}

  // This replica wins the election: a pending or later WaitForLeadership returns Ok.
  void Grant() {
    {
      std::lock_guard<std::mutex> l(mu_);
      granted_ = true;
    }
    cv_.notify_all();
  }
  // Leadership ends without a Release (renew deadline passed, another holder): fires LostToken().
  void Lose(std::string new_holder = "other") {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!leading_) return;
      leading_ = false;
      holder_ = std::move(new_holder);
      ++transitions_;
    }
    lost_.request_stop();
  }
  int release_calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return release_calls_;
  }
  int wait_calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return wait_calls_;
  }

  Status WaitForLeadership(std::stop_token stop) override {
    std::unique_lock<std::mutex> l(mu_);
    ++wait_calls_;
    cv_.wait(l, stop, [this] { return granted_; });
    if (!granted_) return Status::Error(Code::kCancelled, "stopped before leading");
    if (released_) return Status::Error(Code::kCancelled, "released");
    if (!leading_) ++transitions_;
    leading_ = true;
    holder_ = identity_;
    return Status::Ok();
  }
  std::stop_token LostToken() const override { return lost_.get_token(); }
  bool IsLeader() const override {
    std::lock_guard<std::mutex> l(mu_);
    return leading_;
  }
  LeaderState State() const override {
    std::lock_guard<std::mutex> l(mu_);
    return {identity_, leading_, holder_, transitions_};
  }
  const std::string& Identity() const override { return identity_; }
  Status Release() override {
    bool was_leading;
    {
      std::lock_guard<std::mutex> l(mu_);
      ++release_calls_;
      released_ = true;
      was_leading = leading_;
      leading_ = false;
      if (was_leading) holder_.clear();
    }
    if (was_leading) lost_.request_stop();
    return Status::Ok();
  }

 private:
  const std::string identity_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool granted_ = false;
  bool leading_ = false;
  bool released_ = false;
  std::string holder_;
  long long transitions_ = 0;
  int release_calls_ = 0;
  int wait_calls_ = 0;
  std::stop_source lost_;
};

}  // namespace su::testing
