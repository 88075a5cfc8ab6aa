// FolderSource (see folder_source.h): what cmd_controller's ResourceIndex did, behind ResourceSource.
#include "controller/runtime/folder_source.h"

#include <sys/stat.h>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/log.h"
#include "reconcilers/manifest/manifest.h"

namespace su {

Status FolderSource::Reload(const std::string& path, std::vector<std::string>* present,
                            std::vector<std::string>* gone, bool force) {
  FileSystem* fs = LocalFileSystem();
  std::lock_guard<std::mutex> l(mu_);
  // Stat before reading: an edit during the read changes the stamp, so it is read again next time.
  struct stat sb {};
  const bool stat_ok = ::stat(path.c_str(), &sb) == 0;
  auto seen = seen_.find(path);
  if (!force && stat_ok && seen != seen_.end() && seen->second.ino == sb.st_ino &&
      seen->second.size == sb.st_size && seen->second.mtime_sec == sb.st_mtim.tv_sec &&
      seen->second.mtime_nsec == sb.st_mtim.tv_nsec) {
    const auto& keys = files_[path];
    present->insert(present->end(), keys.begin(), keys.end());
    return Status::Ok();
  }
  seen_.erase(path);
  std::set<std::string> before = files_[path];
  if (!fs->Exists(path)) {
    for (const auto& k : before) {
      resources_.erase(k);
      owner_.erase(k);
      gone->push_back(k);
    }
    files_.erase(path);
    return Status::Ok();
  }
  auto loaded = LoadManifestFile(fs, path);
  if (!loaded.ok()) return loaded.status();
  std::set<std::string> now;
  for (auto& su : *loaded) {
    std::string key = su.Key();
    auto owner = owner_.find(key);
    if (owner != owner_.end() && owner->second != path && files_[owner->second].count(key)) {
      return Status::Invalid(path + ": SchemaUpgrade " + key + " is already defined in " + owner->second);
    }
    owner_[key] = path;
    now.insert(key);
    resources_[key] = std::move(su);
    present->push_back(key);
  }
  for (const auto& k : before) {
    if (!now.count(k)) {
      resources_.erase(k);
      owner_.erase(k);
      gone->push_back(k);
    }
  }
  files_[path] = now;
  if (stat_ok) seen_[path] = FileStamp{sb.st_ino, sb.st_size, sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec};
  return Status::Ok();
}

std::vector<std::string> FolderSource::Files() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [f, _] : files_) out.push_back(f);
  return out;
}

void FolderSource::OnPath(const std::string& path, bool resync_only) {
  std::vector<std::string> present, gone;
  Status s = Reload(path, &present, &gone, /*force=*/!resync_only);
  if (!s.ok()) {
    LogError("manifest.invalid", {{"file", path}, {"error", s.ToString()}});
    return;
  }
  for (const auto& k : gone) {
    LogInfo("resource.removed", {{"resource", k}, {"file", path}});
    if (handler_.removed) handler_.removed(k);
  }
  for (const auto& k : present) {
    if (resync_only) {
      if (handler_.resynced) handler_.resynced(k);
    } else if (handler_.changed) {
      handler_.changed(k);
    }
  }
}

Status FolderSource::Start(ResourceHandler handler) {
  if (watcher_) return Status::Invalid("the folder source was started twice");
  handler_ = std::move(handler);
  auto watcher = NewInotifyManifestWatcher(options_);
  if (!watcher.ok()) return watcher.status();
  watcher_ = std::move(watcher).value();
  ManifestWatcherCallbacks cb;
  cb.on_change = [this](const std::string& path) { OnPath(path, false); };
  cb.on_resync = [this](const std::vector<std::string>& paths) {
    std::set<std::string> seen(paths.begin(), paths.end());
    for (const auto& p : paths) OnPath(p, !first_listing_);
    for (const auto& f : Files()) {
      if (!seen.count(f)) OnPath(f, false);
    }
    first_listing_ = false;
    std::lock_guard<std::mutex> l(mu_);
    synced_ = true;
  };
  return watcher_->Start(cb);
}

void FolderSource::Stop() {
  if (watcher_) watcher_->Stop();
}

bool FolderSource::HasSynced() const {
  std::lock_guard<std::mutex> l(mu_);
  return synced_ || !options_.resync_on_start;
}

std::optional<SourcedResource> FolderSource::Get(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = resources_.find(key);
  if (it == resources_.end()) return std::nullopt;
  return SourcedResource{key, it->second.generation, it->second};
}

}  // namespace su
