// SIGKILL at a named point when SU_CRASH_AT asks for it (see crash_point.h).
#include "reconcilers/base/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace su {

void CrashPoint(const char* name) {
  static const char* spec = std::getenv("SU_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return;
  std::string want(spec), point = want;
  long nth = 1;
  auto hash = want.find('#');
  if (hash != std::string::npos) {
    point = want.substr(0, hash);
    nth = std::atol(want.c_str() + hash + 1);
  }
  if (point != name) return;
  static std::mutex mu;
  static std::map<std::string, long> hits;
  std::lock_guard<std::mutex> l(mu);
  if (++hits[point] != nth) return;
  std::fprintf(stderr, "crash point %s reached: SIGKILL\n", spec);
  std::fflush(stderr);
  kill(getpid(), SIGKILL);
  pause();
}

}  // namespace su
