// Linux ManifestWatcher (see manifest_watcher.h): one thread polls an inotify fd and an eventfd
// (the stop signal), debounces per path, and lists the folder on a timer or when the kernel says
// events were lost.
#include "controller/runtime/manifest_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "reconcilers/base/log.h"

namespace su {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                                IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// How often to try re-watching a folder that was deleted or moved away.
constexpr milliseconds kRewatchInterval{1000};

class InotifyManifestWatcher : public ManifestWatcher {
 public:
  InotifyManifestWatcher(ManifestWatcherOptions options, UniqueFd inotify, UniqueFd wake)
      : options_(std::move(options)), inotify_(std::move(inotify)), wake_(std::move(wake)) {}
  ~InotifyManifestWatcher() override { Stop(); }

  Status Start(ManifestWatcherCallbacks callbacks) override {
    std::lock_guard<std::mutex> l(mu_);
    if (thread_.joinable() || stopped_) return Status::Invalid("manifest watcher: Start called twice or after Stop");
    callbacks_ = std::move(callbacks);
    SU_RETURN_IF_ERROR(AddWatch());
    thread_ = std::thread([this] { Loop(); });
    LogInfo("manifest_watch_started", {{"dir", options_.dir}});
    return Status::Ok();
  }

  void Stop() override {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    stopped_ = true;
    uint64_t one = 1;
    // eventfd writes of 8 bytes cannot be short; failure would only mean the counter is saturated,
    // which also wakes the thread.
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
    if (thread_.joinable()) thread_.join();
  }

 private:
  Status AddWatch() {
    int wd = inotify_add_watch(inotify_.get(), options_.dir.c_str(), kWatchMask);
    if (wd < 0) return Status::Io(Errno("inotify_add_watch " + options_.dir));
    wd_ = wd;
    return Status::Ok();
  }

  void Resync() {
    auto files = ListManifestFiles(options_.dir);
    if (!files.ok()) {
      // An unreadable folder must not look like "every manifest was deleted".
      LogWarn("manifest_resync_failed", {{"dir", options_.dir}, {"error", files.status().ToString()}});
      return;
    }
    if (callbacks_.on_resync) callbacks_.on_resync(*files);
  }

  void HandleEvent(const inotify_event& ev, SteadyClock::time_point now) {
    if (ev.mask & IN_Q_OVERFLOW) {
      LogWarn("manifest_watch_overflow", {{"dir", options_.dir}});
      resync_at_ = now;
      return;
    }
    if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
      if (ev.wd == wd_) {
        LogWarn("manifest_watch_lost", {{"dir", options_.dir}});
        if (!(ev.mask & IN_IGNORED)) inotify_rm_watch(inotify_.get(), wd_);
        wd_ = -1;
        rewatch_at_ = now;
      }
      return;
    }
    if (ev.len == 0) return;
    std::string name(ev.name);
    if (IsManifestFileName(name)) {
      pending_[options_.dir + "/" + name] = now + options_.debounce;
    } else if (name.rfind("..", 0) == 0 && (ev.mask & (IN_MOVED_TO | IN_CREATE))) {
      // Kubernetes' ConfigMap volumes swap a ..data symlink atomically: the *.yaml names never
      // change, so only a full listing notices their new content.
      resync_at_ = std::min(resync_at_, now + options_.debounce);
    }
  }

  void ReadEvents(SteadyClock::time_point now) {
    alignas(inotify_event) char buf[8192];
    for (;;) {
      ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) LogWarn("manifest_watch_read_failed", {{"error", std::strerror(errno)}});
        return;
      }
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        HandleEvent(*ev, now);
        p += sizeof(inotify_event) + ev->len;
      }
    }
  }

  void Loop() {
    auto now = SteadyClock::now();
    const bool periodic = options_.resync_period > milliseconds::zero();
    auto far = now + std::chrono::hours(24 * 365);
    resync_at_ = options_.resync_on_start ? now : (periodic ? now + options_.resync_period : far);
    rewatch_at_ = far;
    for (;;) {
      now = SteadyClock::now();
      if (rewatch_at_ <= now) {
        if (AddWatch().ok()) {
          LogInfo("manifest_watch_restored", {{"dir", options_.dir}});
          rewatch_at_ = far;
          resync_at_ = now;  // whatever happened while unwatched
        } else {
          rewatch_at_ = now + kRewatchInterval;
        }
      }
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second <= now) {
          if (callbacks_.on_change) callbacks_.on_change(it->first);
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
      if (resync_at_ <= now) {
        Resync();
        resync_at_ = periodic ? SteadyClock::now() + options_.resync_period : far;
      }

      auto next = std::min(resync_at_, rewatch_at_);
      for (const auto& [path, at] : pending_) next = std::min(next, at);
      auto wait = std::chrono::duration_cast<milliseconds>(next - SteadyClock::now()) + milliseconds(1);
      int timeout = static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 60 * 60 * 1000));

      pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      int r = ::poll(fds, 2, timeout);
      if (r < 0 && errno != EINTR) {
        LogError("manifest_watch_poll_failed", {{"error", std::strerror(errno)}});
        return;
      }
      if (fds[1].revents & POLLIN) return;
      if (fds[0].revents & POLLIN) ReadEvents(SteadyClock::now());
    }
  }

  const ManifestWatcherOptions options_;
  UniqueFd inotify_;
  UniqueFd wake_;
  int wd_ = -1;
  ManifestWatcherCallbacks callbacks_;
  std::mutex mu_;  // Start/Stop
  std::thread thread_;
  bool stopped_ = false;
  // Touched by the watcher thread only.
  std::map<std::string, SteadyClock::time_point> pending_;
  SteadyClock::time_point resync_at_;
  SteadyClock::time_point rewatch_at_;
};

}  // namespace

bool IsManifestFileName(const std::string& name) {
  if (name.empty() || name[0] == '.' || name.back() == '~') return false;
  auto ends_with = [&](const char* suffix) {
    size_t n = std::strlen(suffix);
    return name.size() > n && name.compare(name.size() - n, n, suffix) == 0;
  };
  return ends_with(".yaml") || ends_with(".yml");
}

Result<std::vector<std::string>> ListManifestFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Status::Io(Errno("opendir " + dir));
  std::vector<std::string> out;
  // errno is reset before each readdir: only its end-of-folder NULL with errno still 0 is clean
  // (a dangling link's failed stat below must not read as a failed listing).
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d);
    if (e == nullptr) break;
    std::string name = e->d_name;
    if (!IsManifestFileName(name)) continue;
    struct stat st;
    // stat follows symlinks (ConfigMap volumes); a dangling link or a folder is not a manifest.
    if (::fstatat(::dirfd(d), name.c_str(), &st, 0) == 0 && S_ISREG(st.st_mode)) out.push_back(std::move(name));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) {
    errno = err;
    return Status::Io(Errno("readdir " + dir));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::unique_ptr<ManifestWatcher>> NewInotifyManifestWatcher(ManifestWatcherOptions options) {
  struct stat st;
  if (::stat(options.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Error(Code::kNotFound, "manifests folder " + options.dir + " does not exist or is not a folder");
  }
  while (options.dir.size() > 1 && options.dir.back() == '/') options.dir.pop_back();
  UniqueFd inotify(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify.valid()) return Status::Io(Errno("inotify_init1"));
  UniqueFd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) return Status::Io(Errno("eventfd"));
  return std::unique_ptr<ManifestWatcher>(
      new InotifyManifestWatcher(std::move(options), std::move(inotify), std::move(wake)));
}

}  // namespace su
