// ProcessRunner: runs a program from an argv array (never a shell string), with extra
// environment variables, optional stdin, a timeout, and captured stdout/stderr.
// Secrets belong in env, never in argv: argv is visible to every user via /proc.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

struct ProcessSpec {
  std::vector<std::string> argv;            // argv[0] is looked up in PATH
  std::map<std::string, std::string> env;   // added to (or overriding) the inherited environment
  std::string cwd;                          // empty: inherit
  std::string stdin_data;                   // written to the child's stdin, then closed
  std::chrono::milliseconds timeout{0};     // 0: no timeout; on expiry SIGTERM, then SIGKILL after 5 s
  // Called with each chunk of stdout/stderr as it arrives (progress); may be empty.
  std::function<void(const std::string& chunk, bool is_stderr)> on_output;
  // Polled while the child runs; returning true terminates it (SIGTERM) and the run ends kCancelled.
  std::function<bool()> cancelled;
};

struct ProcessResult {
  int exit_code = -1;   // exit status, or -1 when killed by a signal
  int term_signal = 0;  // signal that ended it, 0 if it exited
  bool timed_out = false;
  std::string out;
  std::string err;
  bool Succeeded() const { return exit_code == 0; }
  // The last n lines of stderr+stdout, for error messages.
  std::string Tail(size_t n = 20) const;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs to completion. Returns an error only when the program could not be started
  // (kNotFound for a missing executable) or was cancelled; a non-zero exit is a result.
  virtual Result<ProcessResult> Run(const ProcessSpec& spec) = 0;
};

// fork/execvp based runner. Thread-safe.
ProcessRunner* PosixProcessRunner();

// Renders argv for logs: words joined by spaces, quoted where needed. Never pass secrets in argv.
std::string FormatArgv(const std::vector<std::string>& argv);

}  // namespace su
