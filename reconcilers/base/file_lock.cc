// FileLock (see file_lock.h): an in-process timed mutex per folder, then flock(2) on the folder,
// polled with LOCK_NB so that the wait is bounded.
#include "reconcilers/base/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

namespace su {
namespace file_lock_internal {

// The in-process lock of one folder: a flag under a mutex, waited for on a condition variable with
// a deadline. Not std::timed_mutex: its try_lock_until(steady_clock) is pthread_mutex_clocklock,
// which ThreadSanitizer (GCC 12) does not intercept, so it saw every unlock as an "unlock of an
// unlocked mutex" and none of the ordering the lock gives (make tsan).
struct FolderGate {
  std::mutex mu;
  std::condition_variable cv;
  bool held = false;  // guarded by mu
};

}  // namespace file_lock_internal

namespace {

using SteadyClock = std::chrono::steady_clock;
// Named, not anonymous: FileLock::Held holds one, and a unity build (make demo) warns
// (-Wsubobject-linkage) about a class with a member of an anonymous-namespace type.
using file_lock_internal::FolderGate;

// One gate per folder ever locked by this process (a handful: never erased, so a waiter's
// shared_ptr and the map always agree).
std::shared_ptr<FolderGate> FolderMutex(const std::string& folder) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<FolderGate>> by_folder;
  std::lock_guard<std::mutex> g(mu);
  auto& slot = by_folder[folder];
  if (!slot) slot = std::make_shared<FolderGate>();
  return slot;
}

std::string FolderOf(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path parent = fs::absolute(path, ec).parent_path();
  if (ec) parent = fs::path(path).parent_path();
  fs::path canon = fs::weakly_canonical(parent, ec);
  return (ec ? parent : canon).string();
}

std::string Seconds(std::chrono::milliseconds d) {
  return std::to_string(d.count() / 1000) + "." + std::to_string(d.count() % 1000 / 100) + " s";
}

}  // namespace

struct FileLock::Held {
  std::string folder;
  std::shared_ptr<file_lock_internal::FolderGate> gate;  // held while held
  int fd = -1;                       // flock'ed while held
  ~Held() {
    if (fd >= 0) {
      ::flock(fd, LOCK_UN);
      ::close(fd);
    }
    if (gate) {
      {
        std::lock_guard<std::mutex> l(gate->mu);
        gate->held = false;
      }
      gate->cv.notify_one();
    }
  }
};

FileLock::FileLock(std::unique_ptr<Held> held) : held_(std::move(held)) {}
FileLock::FileLock(FileLock&&) noexcept = default;
FileLock& FileLock::operator=(FileLock&&) noexcept = default;
FileLock::~FileLock() = default;

const std::string& FileLock::folder() const { return held_->folder; }

Result<FileLock> FileLock::Acquire(const std::string& path, std::chrono::milliseconds wait) {
  const auto deadline = SteadyClock::now() + wait;
  std::string folder = FolderOf(path);
  std::shared_ptr<FolderGate> gate = FolderMutex(folder);
  {
    std::unique_lock<std::mutex> l(gate->mu);
    if (!gate->cv.wait_until(l, deadline, [&] { return !gate->held; })) {
      return Status::Error(Code::kTimeout, path + ": another worker of this process kept editing files in " + folder +
                                               " for more than " + Seconds(wait) + "; will try again");
    }
    gate->held = true;
  }
  auto held = std::make_unique<Held>();
  held->folder = folder;
  held->gate = std::move(gate);  // from here on, ~Held releases it
  held->fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (held->fd < 0) {
    return Status::Io(folder + ": cannot open the folder to lock it for editing " + path + ": " + std::strerror(errno));
  }
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (::flock(held->fd, LOCK_EX | LOCK_NB) == 0) return FileLock(std::move(held));
    int e = errno;
    if (e == EINTR) continue;
    if (e != EWOULDBLOCK) return Status::Io(folder + ": flock failed: " + std::strerror(e));
    auto now = SteadyClock::now();
    if (now >= deadline) {
      return Status::Error(Code::kTimeout,
                           path + ": another process (a second schema-upgrade controller or apply?) has held the "
                                  "edit lock of " + folder + " (flock on the folder) for more than " + Seconds(wait) +
                               "; will try again. `fuser -v " + folder + "` shows who holds it");
    }
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace su
