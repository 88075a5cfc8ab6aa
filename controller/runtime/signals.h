// ShutdownSignal: turns SIGTERM/SIGINT into a stop request the controller can wait on or poll, so
// `controller` finishes or abandons its current step, releases locks and exits 0. Uses the
// self-pipe trick (the handler only write()s a byte), so it works whatever thread the kernel picks
// and needs no signal masks set before other threads start.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>

#include "reconcilers/base/result.h"

namespace su {

class ShutdownSignal {
 public:
  // Installs handlers for SIGTERM and SIGINT (one ShutdownSignal per process; a second Install
  // while one lives is kInvalidArgument). on_signal, if set, runs on the watcher thread (not in the
  // signal handler) with the signal number. With force_on_second, a second signal ends the process
  // at once with exit code 1, like controller-runtime, for operators whose stop hangs.
  static Result<std::unique_ptr<ShutdownSignal>> Install(std::function<void(int)> on_signal = {},
                                                          bool force_on_second = true);
  // Restores the previous handlers.
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  // Requests a stop without a signal (e.g. `apply` finished, or a test).
  void RequestStop();
  bool StopRequested() const { return stop_.stop_requested(); }
  // A token for code that polls or registers std::stop_callback.
  std::stop_token Token() const { return stop_.get_token(); }
  // The signal that caused the stop, 0 if none (or RequestStop).
  int Signal() const;
  // Blocks until a stop is requested.
  void Wait();
  // Blocks until a stop is requested or timeout passes; true if stop was requested.
  bool WaitFor(std::chrono::milliseconds timeout);

 private:
  ShutdownSignal() = default;
  void Notify(int signo);
  void Loop();

  std::stop_source stop_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int signal_ = 0;
  std::function<void(int)> on_signal_;
  std::thread thread_;
};

}  // namespace su
