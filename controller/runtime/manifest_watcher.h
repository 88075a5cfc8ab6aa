// ManifestWatcher: tells the controller which manifest files (*.yaml, *.yml) in a folder changed,
// plus a periodic full listing (resync) so a missed event is healed within one period. It reports
// paths only; the caller maps files to keys and reads the file system for the current state
// (level-based: a path is reported, never what happened to it).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

struct ManifestWatcherCallbacks {
  // A manifest file was created, written, renamed into or out of the folder, or deleted. Bursts of
  // events on one path (an editor's write-temp-then-rename, create+write+close) arrive as one call.
  std::function<void(const std::string& path)> on_change;
  // Every manifest file present now, by its name inside dir (not the full path: at 10,000 files
  // the listing's paths alone were ~1 MB of short-lived heap), sorted. Files absent are gone.
  std::function<void(const std::vector<std::string>& names)> on_resync;
};

struct ManifestWatcherOptions {
  std::string dir;
  // Full listing every period (0 disables periodic resyncs).
  std::chrono::milliseconds resync_period{std::chrono::minutes(5)};
  // Also list once as soon as the watcher starts, so existing manifests are picked up.
  bool resync_on_start = true;
  // Events on one path closer together than this are reported once.
  std::chrono::milliseconds debounce{50};
};

class ManifestWatcher {
 public:
  virtual ~ManifestWatcher() = default;
  // Starts watching; callbacks run on the watcher's own thread, one at a time.
  virtual Status Start(ManifestWatcherCallbacks callbacks) = 0;
  // Stops the thread and waits for it (a callback in progress finishes first). Idempotent.
  virtual void Stop() = 0;
};

// The Linux implementation (inotify). kNotFound if dir is not a folder; kIo if inotify fails.
Result<std::unique_ptr<ManifestWatcher>> NewInotifyManifestWatcher(ManifestWatcherOptions options);

// True for names the watcher reports: *.yaml / *.yml, not hidden (editors' swap and temp files,
// Kubernetes' ..data folders start with a dot) and not backups ending in '~'.
bool IsManifestFileName(const std::string& name);
// The manifest files directly in dir, by name (no folder part), sorted.
Result<std::vector<std::string>> ListManifestFiles(const std::string& dir);

}  // namespace su
