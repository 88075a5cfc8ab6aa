// ShutdownSignal (see signals.h). The handler does only async-signal-safe things: count, write one
// byte (the signal number) to a non-blocking pipe, or _exit on a forced second signal. A thread
// reads the pipe and does the rest; byte 0 tells that thread to end.
#include "controller/runtime/signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "reconcilers/base/log.h"

namespace su {
namespace {

int g_pipe[2] = {-1, -1};
std::atomic<int> g_signals{0};
std::atomic<bool> g_force{false};
std::atomic<bool> g_installed{false};
struct sigaction g_old_term, g_old_int;

static_assert(std::atomic<int>::is_always_lock_free, "signal handler needs lock-free atomics");

void Handler(int signo) {
  int saved = errno;
  if (g_signals.fetch_add(1) >= 1 && g_force.load()) {
    static const char kMsg[] = "second signal: exiting now\n";
    [[maybe_unused]] ssize_t n = ::write(2, kMsg, sizeof kMsg - 1);
    _exit(1);
  }
  unsigned char b = static_cast<unsigned char>(signo);
  // Non-blocking: if the pipe is somehow full, a stop is already pending anyway.
  [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &b, 1);
  errno = saved;
}

}  // namespace

Result<std::unique_ptr<ShutdownSignal>> ShutdownSignal::Install(std::function<void(int)> on_signal,
                                                                 bool force_on_second) {
  bool expected = false;
  if (!g_installed.compare_exchange_strong(expected, true)) {
    return Status::Invalid("signal handlers are already installed in this process");
  }
  if (::pipe2(g_pipe, O_CLOEXEC) != 0) {
    g_installed = false;
    return Status::Io(std::string("pipe2: ") + std::strerror(errno));
  }
  ::fcntl(g_pipe[1], F_SETFL, O_NONBLOCK);
  g_signals = 0;
  g_force = force_on_second;

  std::unique_ptr<ShutdownSignal> s(new ShutdownSignal());
  s->on_signal_ = std::move(on_signal);
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });

  struct sigaction sa {};
  sa.sa_handler = Handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, &g_old_term);
  ::sigaction(SIGINT, &sa, &g_old_int);
  return s;
}

ShutdownSignal::~ShutdownSignal() {
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  ::sigaction(SIGINT, &g_old_int, nullptr);
  unsigned char quit = 0;
  // Blocking retry: the write end is non-blocking, but a full pipe means the reader is about to drain it.
  while (::write(g_pipe[1], &quit, 1) < 0 && (errno == EAGAIN || errno == EINTR)) {
    std::this_thread::yield();
  }
  if (thread_.joinable()) thread_.join();
  ::close(g_pipe[0]);
  ::close(g_pipe[1]);
  g_pipe[0] = g_pipe[1] = -1;
  g_installed = false;
}

void ShutdownSignal::Loop() {
  for (;;) {
    unsigned char b;
    ssize_t n = ::read(g_pipe[0], &b, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || b == 0) return;
    LogInfo("shutdown_signal", {{"signal", strsignal(b)}});
    Notify(b);
    if (on_signal_) on_signal_(b);
  }
}

void ShutdownSignal::Notify(int signo) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (signal_ == 0) signal_ = signo;
    stop_.request_stop();
  }
  cv_.notify_all();
}

void ShutdownSignal::RequestStop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_.request_stop();
  }
  cv_.notify_all();
}

int ShutdownSignal::Signal() const {
  std::lock_guard<std::mutex> l(mu_);
  return signal_;
}

void ShutdownSignal::Wait() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return stop_.stop_requested(); });
}

bool ShutdownSignal::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, timeout, [this] { return stop_.stop_requested(); });
}

}  // namespace su
