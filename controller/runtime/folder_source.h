// FolderSource: the ResourceSource of the Podman mode: a folder of SchemaUpgrade manifests, watched
// with inotify plus a periodic full listing (manifest_watcher.h). Files map to keys: a file that
// fails to parse keeps its previous resources (a typo must not read as "delete everything") and
// is logged (manifest.invalid); a key defined by two files is refused in the second one.
// Handler calls: a changed file -> changed(key) for each key it defines, removed(key) for keys it
// no longer defines; the periodic listing -> resynced(key) (changed(key) for the first listing).
#pragma once

#include <sys/types.h>

#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/runtime/manifest_watcher.h"
#include "controller/runtime/resource_source.h"

namespace su {

class FolderSource : public ResourceSource {
 public:
  explicit FolderSource(ManifestWatcherOptions options) : options_(std::move(options)) {}
  ~FolderSource() override { Stop(); }

  // kNotFound when the folder is not one, kIo when inotify fails.
  Status Start(ResourceHandler handler) override;
  void Stop() override;
  bool HasSynced() const override;
  std::optional<SourcedResource> Get(const std::string& key) override;
  std::string Describe() const override { return "manifests " + options_.dir; }

 private:
  // Re-reads path; the keys it now defines and the keys it no longer defines. Unless force, a file
  // whose inode, size and modification time are those of its last good parse is not parsed again
  // (a resync of 10,000 unchanged files parses nothing, and an edit's event is not stuck behind
  // it on the watcher thread); a changed-file event forces the read.
  Status Reload(const std::string& path, std::vector<std::string>* present, std::vector<std::string>* gone,
                bool force);
  void OnPath(const std::string& path, bool resync_only);
  // A periodic listing: BeginListing() starts one; every file Reload()ed after it is marked listed;
  // NotListed(listing) is the files (full paths) it did not reach, i.e. gone without an event.
  unsigned BeginListing();
  std::vector<std::string> NotListed(unsigned listing);
  // files_ is keyed by the name inside options_.dir (short: no heap buffer for most names), or the
  // full path of a file elsewhere; PathOf is the inverse of NameOf.
  std::string NameOf(const std::string& path) const;
  std::string PathOf(const std::string& name) const;

  const ManifestWatcherOptions options_;
  ResourceHandler handler_;
  std::unique_ptr<ManifestWatcher> watcher_;
  mutable std::mutex mu_;
  // Per file and per resource, as compact as it goes (issue 10: 10,000 manifests held between
  // passes). A file's stamp (inode, size, modification time) is that of its last good parse.
  struct FileStamp {
    ino_t ino;
    off_t size;
    time_t mtime_sec;
    long mtime_nsec;
  };
  struct FileEntry {
    // The resources it defines (as of its last good parse): the keys of their resources_ nodes,
    // not copies (std::map nodes do not move; an entry leaves resources_ only through its file).
    std::vector<const std::string*> keys;
    FileStamp stamp{};
    bool stamped = false;  // stamp is valid: an unchanged file need not be parsed again
    unsigned listed = 0;   // the last listing (BeginListing) that reached this file
  };
  struct ResourceEntry {
    const std::string* file;  // the key of its files_ entry (a name: PathOf; map keys do not move)
    std::string spec;         // PackSpec(the parsed SchemaUpgrade)
  };
  std::map<std::string, FileEntry> files_;          // guarded by mu_: file name -> what it defines
  std::map<std::string, ResourceEntry> resources_;  // guarded by mu_: key -> its file and spec
  bool first_listing_ = true;                            // watcher thread only
  bool synced_ = false;                                  // guarded by mu_
  unsigned listing_ = 0;                                 // guarded by mu_: the current listing
};

}  // namespace su
