// fork/exec process runner with pipes and poll (see process.h).
#include "reconcilers/base/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <thread>

extern char** environ;

namespace su {
namespace {

class PosixRunner : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const ProcessSpec& spec) override;
};

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string ProcessResult::Tail(size_t n) const {
  std::string all = err;
  if (!out.empty()) all += (all.empty() ? "" : "\n") + out;
  std::vector<std::string> lines;
  std::istringstream in(all);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  size_t start = lines.size() > n ? lines.size() - n : 0;
  std::string r;
  for (size_t i = start; i < lines.size(); ++i) r += (i == start ? "" : "\n") + lines[i];
  return r;
}

std::string FormatArgv(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    bool q = a.empty() || a.find_first_of(" \t\"'$\\") != std::string::npos;
    s += q ? "'" + a + "'" : a;
  }
  return s;
}

Result<ProcessResult> PosixRunner::Run(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Status::Invalid("empty argv");
  int in_p[2], out_p[2], err_p[2], exec_p[2];
  if (pipe2(in_p, O_CLOEXEC) || pipe2(out_p, O_CLOEXEC) || pipe2(err_p, O_CLOEXEC) || pipe2(exec_p, O_CLOEXEC)) {
    return Status::Io(std::string("pipe: ") + strerror(errno));
  }
  // Build argv/envp before fork: no allocation in the child.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && spec.env.count(kv.substr(0, eq))) continue;
    env_store.push_back(kv);
  }
  for (const auto& [k, v] : spec.env) env_store.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return Status::Io(std::string("fork: ") + strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);  // own process group so a timeout kills grandchildren too
    dup2(in_p[0], 0);
    dup2(out_p[1], 1);
    dup2(err_p[1], 2);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) {
      int e = errno;
      (void)!write(exec_p[1], &e, sizeof e);
      _exit(127);
    }
    execvpe(argv[0], argv.data(), envp.data());
    int e = errno;
    (void)!write(exec_p[1], &e, sizeof e);
    _exit(127);
  }
  CloseFd(in_p[0]);
  CloseFd(out_p[1]);
  CloseFd(err_p[1]);
  CloseFd(exec_p[1]);
  int exec_errno = 0;
  ssize_t got = read(exec_p[0], &exec_errno, sizeof exec_errno);
  CloseFd(exec_p[0]);
  if (got == sizeof exec_errno) {
    waitpid(pid, nullptr, 0);
    CloseFd(in_p[1]);
    CloseFd(out_p[0]);
    CloseFd(err_p[0]);
    Code code = exec_errno == ENOENT ? Code::kNotFound : Code::kIo;
    return Status::Error(code, "cannot run " + spec.argv[0] + ": " + strerror(exec_errno));
  }

  ProcessResult res;
  // Feed stdin from a thread so a child that writes a lot before reading cannot deadlock us.
  std::thread feeder([fd = in_p[1], data = spec.stdin_data]() mutable {
    signal(SIGPIPE, SIG_IGN);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = write(fd, data.data() + off, data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fd);
  });
  in_p[1] = -1;

  auto start = std::chrono::steady_clock::now();
  bool term_sent = false, cancelled = false;
  std::chrono::steady_clock::time_point term_at;
  int fds_open = 2;
  struct pollfd pfd[2] = {{out_p[0], POLLIN, 0}, {err_p[0], POLLIN, 0}};
  char buf[65536];
  while (fds_open > 0) {
    int r = poll(pfd, 2, 200);
    if (r < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(pfd[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(pfd[i].fd);
        pfd[i].fd = -1;
        --fds_open;
        continue;
      }
      std::string chunk(buf, static_cast<size_t>(n));
      (i == 0 ? res.out : res.err) += chunk;
      if (spec.on_output) spec.on_output(chunk, i == 1);
    }
    auto now = std::chrono::steady_clock::now();
    if (!term_sent) {
      bool want_stop = false;
      if (spec.timeout.count() > 0 && now - start > spec.timeout) {
        res.timed_out = true;
        want_stop = true;
      }
      if (spec.cancelled && spec.cancelled()) {
        cancelled = true;
        want_stop = true;
      }
      if (want_stop) {
        kill(-pid, SIGTERM);
        term_sent = true;
        term_at = now;
      }
    } else if (now - term_at > std::chrono::seconds(5)) {
      kill(-pid, SIGKILL);
    }
  }
  feeder.join();
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus)) res.exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) res.term_signal = WTERMSIG(wstatus);
  if (cancelled) return Status::Error(Code::kCancelled, spec.argv[0] + " was cancelled");
  return res;
}

ProcessRunner* PosixProcessRunner() {
  static PosixRunner runner;
  return &runner;
}

}  // namespace su
