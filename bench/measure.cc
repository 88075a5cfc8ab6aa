// su-bench-measure: runs one command and prints "WALL_SECONDS MAX_RSS_KB EXIT USER_SECONDS SYS_SECONDS"
// on stdout (the command's own stdout/stderr go to LOG, appended). Used by bench/run.sh only.
//
// Why a C++ helper and not python3 or bash: Linux keeps the peak RSS of the address space a process
// had *before* exec (the forked copy of its parent), so a child started from python3 reports at
// least python's ~14 MB even for /bin/true. This helper is linked statically and allocates almost
// nothing, so its floor is well under 1 MB (bench/run.sh prints the floor it measured for /bin/true).
// It forks and execs directly, and reads the child's rusage through wait4: it is a measuring tool
// outside the product, so reconcilers/base/process.h (which hides rusage) is not used.
//
// usage: su-bench-measure LOG PROGRAM [ARGS...]
// exit status: 0 when the measurement was taken (the command's exit code is printed, not returned),
// 2 on bad usage or when fork/open fails.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace {

double Seconds(const timespec& t) { return static_cast<double>(t.tv_sec) + t.tv_nsec / 1e9; }
double Seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: su-bench-measure LOG PROGRAM [ARGS...]\n");
    return 2;
  }
  int log = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) {
    std::perror("su-bench-measure: open log");
    return 2;
  }
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("su-bench-measure: fork");
    return 2;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    execvp(argv[2], argv + 2);
    std::fprintf(stderr, "su-bench-measure: cannot exec %s\n", argv[2]);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      std::perror("su-bench-measure: wait4");
      return 2;
    }
  }
  timespec end{};
  clock_gettime(CLOCK_MONOTONIC, &end);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::printf("%.6f %ld %d %.6f %.6f\n", Seconds(end) - Seconds(start), usage.ru_maxrss, code,
              Seconds(usage.ru_utime), Seconds(usage.ru_stime));
  return 0;
}
