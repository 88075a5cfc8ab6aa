// MigrationFileCache: each version of a migration file's bytes is read and SHA-256-hashed once.
// A version is known by its FileStamp (device, inode, size, mtime and ctime in nanoseconds):
//  - Text(fs, path): the content (checked by CheckMigrationText: NUL-free UTF-8) and its checksum,
//    shared. The cache keeps the text only while a caller holds it (a weak reference): an engine
//    holds its pending files for the length of a run, so observe, lint and apply read them once,
//    and a finished run leaves no file contents in memory.
//  - Checksum(fs, path): only the digest, kept (64 bytes a file) keyed by the stamp, so a folder
//    of applied files is re-read only when one of them changes. An entry older than
//    full_check_every is read and hashed again whatever its stamp says (the slow cadence that
//    catches an edit that kept every stamp field, e.g. a file system with coarse timestamps).
//  - A file whose stamp changed while it was read is returned but not cached.
//  - A FileSystem without Stat (fakes) gets no caching: every call reads.
// Errors are ReadFile's and CheckMigrationText's (naming the path). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"

namespace su {

struct MigrationText {
  std::string content;
  std::string checksum;  // sha256 hex of content
};

class MigrationFileCache {
 public:
  explicit MigrationFileCache(std::chrono::seconds full_check_every = std::chrono::minutes(10))
      : full_check_every_(full_check_every) {}

  Result<std::shared_ptr<const MigrationText>> Text(FileSystem* fs, const std::string& path);
  Result<std::string> Checksum(FileSystem* fs, const std::string& path);
  // Forgets everything (tests; a next call reads again).
  void Clear();

  // The checksum entries of `fs` (never the texts) written to / read from `file`, so a short-lived
  // process (`apply`) starts from the last run's checksums: an unchanged applied file is then
  // only stat'ed, not read and hashed. An entry keeps its age (full_check_every still applies).
  // Load: a missing or unreadable file, or a malformed line, is ignored (the cache starts
  // empty: it is only ever a shortcut); Save writes atomically, and not at all when no file was
  // read and hashed since that file was loaded or saved (a no-op apply rewrites nothing).
  void LoadChecksums(FileSystem* fs, const std::string& file);
  Status SaveChecksums(FileSystem* fs, const std::string& file);
  // LoadChecksums, deferred to the first Text or Checksum call on `fs` (a no-op apply whose
  // observation was cached never reads the file); SaveChecksums of that file before any such call
  // writes nothing.
  void LoadChecksumsOnFirstUse(FileSystem* fs, const std::string& file);

 private:
  struct Entry {
    FileStamp stamp;
    std::string checksum;
    std::weak_ptr<const MigrationText> text;
    std::chrono::steady_clock::time_point verified;
  };
  using Key = std::pair<const FileSystem*, std::string>;
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      return std::hash<std::string>()(k.second) ^ (std::hash<const void*>()(k.first) << 1);
    }
  };
  // Reads, checks and hashes path; caches it when the stamp held still. stamp: taken before.
  Result<std::shared_ptr<const MigrationText>> Load(FileSystem* fs, const std::string& path,
                                                    const Result<FileStamp>& stamp);

  std::chrono::seconds full_check_every_;
  std::mutex mu_;
  // Hashed: an apply loads and looks up one entry per file of folders with thousands of them.
  std::unordered_map<Key, Entry, KeyHash> entries_;  // guarded by mu_
  // Counts entries (re)learnt by Load; saved_ holds, per file system, the checksums file last
  // loaded or saved and changes_ at that moment. Both guarded by mu_.
  struct Saved {
    std::string file;
    std::uint64_t changes = 0;
  };
  std::uint64_t changes_ = 0;
  std::map<const FileSystem*, Saved> saved_;
  std::map<const FileSystem*, std::string> deferred_;  // guarded by mu_: LoadChecksumsOnFirstUse's files

  void LoadDeferred(FileSystem* fs);
};

// The process-wide cache the engines use (the controller runs many passes in one process).
MigrationFileCache* SharedMigrationFileCache();

}  // namespace su
