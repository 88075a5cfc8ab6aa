// BackgroundProcess: starts a program in the background and lets a crash test signal it at any
// moment (kill -9, SIGTERM) and wait for its end with a bound. ProcessRunner (process.h) runs a
// program to completion and keeps its pid private, which is exactly what these tests cannot use.
// stdout and stderr go to a log file (kept for failure messages). The child gets SIGKILL when the
// test process dies (PR_SET_PDEATHSIG), so a crashed test leaves no controller behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace su::testing {

struct ProcessEnd {
  bool exited = false;  // exit() was called; else killed by signal
  int exit_code = -1;
  int signal = 0;
  std::string Describe() const;
};

class BackgroundProcess {
 public:
  BackgroundProcess() = default;
  // SIGKILLs a process still running, then reaps it.
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // argv[0] is a path or looked up in PATH. env entries are added to (or override) the inherited
  // environment; a value of "\x01unset" removes the variable. Returns false when fork/exec failed.
  bool Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
             const std::string& log_path);
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !end_; }
  void Signal(int signo) const;
  // Waits up to timeout for the process to end; nullopt if it still runs.
  std::optional<ProcessEnd> Wait(std::chrono::milliseconds timeout);
  // Non-blocking check.
  std::optional<ProcessEnd> Poll() { return Wait(std::chrono::milliseconds(0)); }
  const std::string& log_path() const { return log_path_; }
  // The log's last max_bytes, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  std::optional<ProcessEnd> end_;
  std::string log_path_;
};

inline constexpr const char* kUnsetEnv = "\x01unset";

}  // namespace su::testing
