// FileSystem: every file the reconciler reads or writes goes through this interface, so tests can
// use a temp dir or a fake. Errors name the path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

// ReadFile reads only regular files (symlinks followed) of at most this size.
inline constexpr size_t kMaxReadFileBytes = 64u * 1024 * 1024;

// What identifies one version of a file's bytes without reading them: an edit (in place or by
// rename) changes the inode, size, mtime or ctime (ctime cannot be set back by touch -d).
struct FileStamp {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// One entry of a directory listing.
struct DirEntry {
  std::string name;     // the name, not the path
  bool is_dir = false;  // a directory (symlinks followed)
};

// One entry of a directory listing with its stamp.
struct StampedEntry {
  std::string name;
  FileStamp stamp;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The whole file. kNotFound when it does not exist; kInvalidArgument (bad input, naming the
  // path) when it is not a regular file (a directory, FIFO, device: never blocks on a FIFO), is
  // larger than kMaxReadFileBytes, is unreadable (permissions) or is a looping symlink; kIo for
  // other read errors.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Writes to path.tmp.<pid>, fsyncs, renames over path: readers see the old or the new file, never half.
  virtual Status WriteFileAtomic(const std::string& path, const std::string& content) = 0;
  // Names (not paths) of the entries of dir, sorted. kNotFound if dir does not exist.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // ListDir with each entry's type. The default asks IsDir per entry; the real file system takes
  // the type from the listing itself (no stat per entry, which a no-op pass over 5000 files feels).
  virtual Result<std::vector<DirEntry>> ListDirEntries(const std::string& dir);
  virtual bool Exists(const std::string& path) = 0;
  virtual bool IsDir(const std::string& path) = 0;
  virtual Status MakeDirs(const std::string& path) = 0;
  // MakeDirs, and the last folder of path is accessible to its owner only (0700, whatever the
  // umask) when this call creates it; an existing folder keeps its mode. Fakes may keep the default.
  virtual Status MakePrivateDirs(const std::string& path) { return MakeDirs(path); }
  virtual Status Remove(const std::string& path) = 0;
  // The file's stamp (symlinks followed). kFailed by default: a file system that cannot say
  // gets no caching (every read goes to ReadFile).
  virtual Result<FileStamp> Stat(const std::string& path) {
    return Status::Error(Code::kFailed, path + ": no file stamps on this file system");
  }
  // Every entry of dir (sorted by name) with its stamp (symlinks followed). An entry that is
  // gone by the time it is stat'ed (or a dangling symlink) is left out. The default lists and
  // calls Stat per entry (so kFailed where Stat is); the real file system stats through the
  // directory's fd, with no path lookup per entry (a no-op apply stamps 5000 files).
  virtual Result<std::vector<StampedEntry>> StatDirEntries(const std::string& dir);
};

// The real file system. Thread-safe.
FileSystem* LocalFileSystem();

// Path helpers (pure string work).
std::string JoinPath(const std::string& a, const std::string& b);
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);
// Resolves rel against the directory base_dir unless rel is absolute.
std::string ResolvePath(const std::string& base_dir, const std::string& rel);

}  // namespace su
