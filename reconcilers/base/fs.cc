// Local file system (see fs.h).
#include "reconcilers/base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace su {
namespace {

namespace stdfs = std::filesystem;

std::string DescribeFileType(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

// Calls f(dir_fd, name, d_type) for each entry of dir but "." and "..", in the directory's order
// (dir_fd: the open directory, for *at() calls relative to it). readdir
// directly: std::filesystem::directory_iterator builds a path per entry (about 4000 instructions
// each; a no-op apply lists thousands of files).
template <typename F>
Status Scan(const std::string& dir, F&& f) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    int e = errno;
    return Status::Error(e == ENOENT ? Code::kNotFound : Code::kIo, dir + ": cannot list: " + std::strerror(e));
  }
  const int dfd = ::dirfd(d);
  for (;;) {
    errno = 0;
    const struct dirent* e = ::readdir(d);
    if (e == nullptr) break;
    if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) continue;
    f(dfd, e->d_name, e->d_type);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Status::Io(dir + ": cannot list: " + std::strerror(err));
  return Status::Ok();
}

FileStamp StampOf(const struct stat& st) {
  FileStamp f;
  f.device = static_cast<std::uint64_t>(st.st_dev);
  f.inode = static_cast<std::uint64_t>(st.st_ino);
  f.size = static_cast<std::uint64_t>(st.st_size);
  f.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  f.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
  return f;
}

class LocalFs : public FileSystem {
 public:
  Result<std::string> ReadFile(const std::string& path) override {
    if (path.empty()) return Status::Invalid("no file name given (an empty path)");
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer; fstat refuses it below.
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT) return Status::Error(Code::kNotFound, path + ": cannot read: " + std::strerror(e));
      if (e == ELOOP) {
        return Status::Invalid(path + ": cannot read: a symbolic link that points to itself or loops (" +
                               std::strerror(e) + "); fix or remove the link");
      }
      if (e == EACCES || e == EPERM) {
        return Status::Invalid(path + ": cannot read: " + std::strerror(e) +
                               "; make it readable by this user (chmod/chown) or remove it");
      }
      if (e == ENOTDIR || e == ENAMETOOLONG) return Status::Invalid(path + ": cannot read: " + std::strerror(e));
      return Status::Io(path + ": cannot read: " + std::strerror(e));
    }
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat st;
    if (::fstat(fd, &st) != 0) return Status::Io(path + ": cannot stat: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) {
      return Status::Invalid(path + ": is " + DescribeFileType(st.st_mode) +
                             ", not a regular file; expected a regular file here (remove or rename it)");
    }
    if (st.st_size > static_cast<off_t>(kMaxReadFileBytes)) {
      return Status::Invalid(path + ": is " + std::to_string(st.st_size / (1024 * 1024)) + " MB; files read here may "
                             "be at most " + std::to_string(kMaxReadFileBytes / (1024 * 1024)) +
                             " MB (split it, or is it the wrong file?)");
    }
    // Back to blocking reads for a regular file (O_NONBLOCK has no effect on them, but be plain).
    int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    std::string out;
    out.reserve(static_cast<size_t>(st.st_size));
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        if (e == EISDIR) return Status::Invalid(path + ": is a directory, not a regular file");
        return Status::Io(path + ": read failed: " + std::strerror(e));
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
      // A file that grows while we read it is held to the same limit.
      if (out.size() > kMaxReadFileBytes) {
        return Status::Invalid(path + ": is larger than " + std::to_string(kMaxReadFileBytes / (1024 * 1024)) +
                               " MB; files read here may be at most that large");
      }
    }
    return out;
  }

  Status WriteFileAtomic(const std::string& path, const std::string& content) override {
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::Io(tmp + ": cannot create: " + std::strerror(errno));
    // Keep the original file's mode when replacing it.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) (void)!fchmod(fd, st.st_mode & 07777);
    size_t off = 0;
    while (off < content.size()) {
      ssize_t n = ::write(fd, content.data() + off, content.size() - off);
      if (n < 0) {
        int e = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return Status::Io(tmp + ": write failed: " + std::strerror(e));
      }
      off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      ::unlink(tmp.c_str());
      return Status::Io(tmp + ": fsync/close failed: " + std::strerror(errno));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return Status::Io(path + ": rename failed: " + std::strerror(e));
    }
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    std::vector<std::string> names;
    SU_RETURN_IF_ERROR(Scan(dir, [&](int, const char* name, unsigned char) { names.emplace_back(name); }));
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<std::vector<DirEntry>> ListDirEntries(const std::string& dir) override {
    std::vector<DirEntry> out;
    std::string path;
    SU_RETURN_IF_ERROR(Scan(dir, [&](int, const char* name, unsigned char type) {
      bool is_dir = type == DT_DIR;
      if (type == DT_UNKNOWN || type == DT_LNK) {  // a stat only when the listing cannot say
        path = JoinPath(dir, name);
        struct stat st;
        is_dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      out.push_back(DirEntry{name, is_dir});
    }));
    std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    return out;
  }

  Result<std::vector<StampedEntry>> StatDirEntries(const std::string& dir) override {
    std::vector<StampedEntry> out;
    Status failed = Status::Ok();  // the first entry that could not be stat'ed: the rest are skipped
    SU_RETURN_IF_ERROR(Scan(dir, [&](int dfd, const char* name, unsigned char) {
      if (!failed.ok()) return;
      struct stat st;
      if (::fstatat(dfd, name, &st, 0) == 0) {
        out.push_back(StampedEntry{name, StampOf(st)});
      } else if (errno != ENOENT) {  // ENOENT: gone since the listing, or a dangling link
        failed = Status::Io(JoinPath(dir, name) + ": cannot stat: " + std::strerror(errno));
      }
    }));
    SU_RETURN_IF_ERROR(failed);
    std::sort(out.begin(), out.end(), [](const StampedEntry& a, const StampedEntry& b) { return a.name < b.name; });
    return out;
  }

  bool Exists(const std::string& path) override {
    std::error_code ec;
    return stdfs::exists(path, ec);
  }
  bool IsDir(const std::string& path) override {
    std::error_code ec;
    return stdfs::is_directory(path, ec);
  }
  Status MakeDirs(const std::string& path) override {
    std::error_code ec;
    stdfs::create_directories(path, ec);
    if (ec) return Status::Io(path + ": cannot create directory: " + ec.message());
    return Status::Ok();
  }
  Status MakePrivateDirs(const std::string& path) override {
    std::error_code ec;
    if (stdfs::is_directory(path, ec)) return Status::Ok();
    std::string parent = DirName(path);
    if (!parent.empty() && parent != path) SU_RETURN_IF_ERROR(MakeDirs(parent));
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::Io(path + ": cannot create directory: " + std::strerror(errno));
    }
    // mkdir's mode is masked by the umask; chmod is not.
    if (::chmod(path.c_str(), 0700) != 0) return Status::Io(path + ": cannot make the folder private: " + std::strerror(errno));
    return Status::Ok();
  }
  Result<FileStamp> Stat(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      int e = errno;
      Code c = e == ENOENT ? Code::kNotFound : Code::kIo;
      return Status::Error(c, path + ": cannot stat: " + std::strerror(e));
    }
    return StampOf(st);
  }
  Status Remove(const std::string& path) override {
    std::error_code ec;
    stdfs::remove(path, ec);
    if (ec) return Status::Io(path + ": cannot remove: " + ec.message());
    return Status::Ok();
  }
};

}  // namespace

Result<std::vector<StampedEntry>> FileSystem::StatDirEntries(const std::string& dir) {
  SU_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  std::vector<StampedEntry> out;
  out.reserve(names.size());
  for (auto& name : names) {
    auto st = Stat(JoinPath(dir, name));
    if (!st.ok() && st.status().code() == Code::kNotFound) continue;
    if (!st.ok()) return st.status();
    out.push_back(StampedEntry{std::move(name), *st});
  }
  return out;
}

Result<std::vector<DirEntry>> FileSystem::ListDirEntries(const std::string& dir) {
  SU_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  std::vector<DirEntry> out;
  out.reserve(names.size());
  for (auto& name : names) {
    bool is_dir = IsDir(JoinPath(dir, name));
    out.push_back(DirEntry{std::move(name), is_dir});
  }
  return out;
}

FileSystem* LocalFileSystem() {
  static LocalFs fs;
  return &fs;
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (!b.empty() && b[0] == '/') return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

std::string DirName(const std::string& path) {
  auto p = stdfs::path(path).parent_path().string();
  return p.empty() ? "." : p;
}

std::string BaseName(const std::string& path) { return stdfs::path(path).filename().string(); }

std::string ResolvePath(const std::string& base_dir, const std::string& rel) {
  if (!rel.empty() && rel[0] == '/') return rel;
  return JoinPath(base_dir, rel);
}

}  // namespace su
