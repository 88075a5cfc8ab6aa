// BackgroundProcess (see bg_process.h): fork/exec with the log file as stdout and stderr.
#include "tests/support/bg_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace su::testing {

std::string ProcessEnd::Describe() const {
  if (exited) return "exited with code " + std::to_string(exit_code);
  return std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

BackgroundProcess::~BackgroundProcess() {
  if (running()) {
    Signal(SIGKILL);
    (void)Wait(std::chrono::seconds(10));
  }
}

bool BackgroundProcess::Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                              const std::string& log_path) {
  log_path_ = log_path;
  end_.reset();
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && env.count(kv.substr(0, eq))) continue;
    env_store.push_back(kv);
  }
  for (const auto& [k, v] : env) {
    if (v != kUnsetEnv) env_store.push_back(k + "=" + v);
  }
  std::vector<char*> envp, args;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(fd);
  pid_ = pid;
  return true;
}

void BackgroundProcess::Signal(int signo) const {
  if (pid_ > 0 && !end_) kill(pid_, signo);
}

std::optional<ProcessEnd> BackgroundProcess::Wait(std::chrono::milliseconds timeout) {
  if (end_) return end_;
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      ProcessEnd e;
      e.exited = WIFEXITED(st);
      if (e.exited) e.exit_code = WEXITSTATUS(st);
      if (WIFSIGNALED(st)) e.signal = WTERMSIG(st);
      end_ = e;
      return end_;
    }
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string BackgroundProcess::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? "..." + s.substr(s.size() - max_bytes) : s;
}

}  // namespace su::testing
