// FolderSource (see folder_source.h): what cmd_controller's ResourceIndex did, behind ResourceSource.
#include "controller/runtime/folder_source.h"

#include <sys/stat.h>

#include <algorithm>

#include "api/spec_pack.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/base/log.h"
#include "reconcilers/manifest/manifest.h"

namespace su {

std::string FolderSource::NameOf(const std::string& path) const {
  const std::string& dir = options_.dir;
  if (path.size() > dir.size() + 1 && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/') {
    return path.substr(dir.size() + 1);
  }
  return path;
}

std::string FolderSource::PathOf(const std::string& name) const {
  return !name.empty() && name[0] == '/' ? name : options_.dir + "/" + name;
}

Status FolderSource::Reload(const std::string& path, std::vector<std::string>* present,
                            std::vector<std::string>* gone, bool force) {
  FileSystem* fs = LocalFileSystem();
  const std::string name = NameOf(path);
  std::lock_guard<std::mutex> l(mu_);
  // Stat before reading: an edit during the read changes the stamp, so it is read again next time.
  struct stat sb {};
  const bool stat_ok = ::stat(path.c_str(), &sb) == 0;
  auto file = files_.find(name);
  if (file != files_.end()) file->second.listed = listing_;
  if (!force && stat_ok && file != files_.end() && file->second.stamped) {
    const FileStamp& st = file->second.stamp;
    if (st.ino == sb.st_ino && st.size == sb.st_size && st.mtime_sec == sb.st_mtim.tv_sec &&
        st.mtime_nsec == sb.st_mtim.tv_nsec) {
      for (const std::string* k : file->second.keys) present->push_back(*k);
      return Status::Ok();
    }
  }
  if (file != files_.end()) file->second.stamped = false;
  if (!fs->Exists(path)) {
    if (file == files_.end()) return Status::Ok();
    for (const std::string* k : file->second.keys) {
      gone->push_back(*k);
      resources_.erase(resources_.find(*k));  // by iterator: k points into the node erased
    }
    files_.erase(file);
    return Status::Ok();
  }
  auto loaded = LoadManifestFile(fs, path);
  if (!loaded.ok()) return loaded.status();
  // Refuse a key another file defines before changing anything: the file keeps its last good parse.
  for (const auto& su : *loaded) {
    auto owner = resources_.find(su.Key());
    if (owner != resources_.end() && *owner->second.file != name) {
      return Status::Invalid(path + ": SchemaUpgrade " + su.Key() + " is already defined in " +
                             PathOf(*owner->second.file));
    }
  }
  if (file == files_.end()) {
    file = files_.emplace(name, FileEntry{}).first;
    file->second.listed = listing_;
  }
  const std::string* file_key = &file->first;
  std::vector<const std::string*> now;
  now.reserve(loaded->size());
  for (auto& su : *loaded) {
    std::string key = su.Key();
    su.source_file.clear();  // the file's name is the entry's key: not held twice
    auto it = resources_.insert_or_assign(key, ResourceEntry{file_key, PackSpec(su)}).first;
    present->push_back(std::move(key));
    now.push_back(&it->first);  // a key still defined keeps its node, so its pointer compares equal
  }
  for (const std::string* k : file->second.keys) {
    if (std::find(now.begin(), now.end(), k) == now.end()) {
      gone->push_back(*k);
      resources_.erase(resources_.find(*k));  // by iterator: k points into the node erased
    }
  }
  file->second.keys = std::move(now);
  file->second.keys.shrink_to_fit();
  if (stat_ok) {
    file->second.stamp = FileStamp{sb.st_ino, sb.st_size, sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec};
    file->second.stamped = true;
  }
  return Status::Ok();
}

unsigned FolderSource::BeginListing() {
  std::lock_guard<std::mutex> l(mu_);
  return ++listing_;
}

std::vector<std::string> FolderSource::NotListed(unsigned listing) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [name, entry] : files_) {
    if (entry.listed != listing) out.push_back(PathOf(name));
  }
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
  cb.on_resync = [this](const std::vector<std::string>& names) {
    // Files known but not in this listing (deleted without an event we saw) are read again, which
    // removes their resources. Each file read marks itself listed: no set of 10,000 names is built.
    const unsigned listing = BeginListing();
    for (const auto& n : names) OnPath(PathOf(n), !first_listing_);
    for (const auto& f : NotListed(listing)) OnPath(f, false);
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
  SchemaUpgrade su = UnpackSpec(it->second.spec);
  su.source_file = PathOf(*it->second.file);
  long long generation = su.generation;
  return SourcedResource{key, generation, std::move(su)};
}

}  // namespace su
