// RunSelfInChild: runs this test binary again in a child process with only one test selected,
// for tests that kill a run at arbitrary points (crash safety, backfill exactly-once). A fresh
// process image matters: CrashPoint reads SU_CRASH_AT once per process, and the child must share
// nothing with the parent but the database. Header-only; used by the sql and drizzle backfill
// integration tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace su::testing {

// Sets env in the child, sends its stdout to /dev/null and execs /proc/self/exe (argv[0] name)
// with --gtest_filter=filter. With kill_after_ms >= 0 the child is SIGKILLed after that delay:
// where the kill lands is the point, so it is a delay, not a wait. Returns the wait status.
inline int RunSelfInChild(const std::string& name, const std::string& filter,
                          const std::vector<std::pair<std::string, std::string>>& env, int kill_after_ms = -1) {
  const std::string filter_arg = "--gtest_filter=" + filter;
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    execl("/proc/self/exe", name.c_str(), filter_arg.c_str(), nullptr);
    _exit(127);
  }
  if (kill_after_ms >= 0) {
    usleep(kill_after_ms * 1000);
    kill(pid, SIGKILL);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace su::testing
