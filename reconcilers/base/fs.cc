// Local file system (see fs.h).
#include "reconcilers/base/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace su {
namespace {

namespace stdfs = std::filesystem;

class LocalFs : public FileSystem {
 public:
  Result<std::string> ReadFile(const std::string& path) override {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      Code c = errno == ENOENT ? Code::kNotFound : Code::kIo;
      return Status::Error(c, path + ": cannot read: " + std::strerror(errno));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
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
    std::error_code ec;
    std::vector<std::string> names;
    stdfs::directory_iterator it(dir, ec);
    if (ec) {
      Code c = ec == std::errc::no_such_file_or_directory ? Code::kNotFound : Code::kIo;
      return Status::Error(c, dir + ": cannot list: " + ec.message());
    }
    for (const auto& e : it) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
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
  Status Remove(const std::string& path) override {
    std::error_code ec;
    stdfs::remove(path, ec);
    if (ec) return Status::Io(path + ": cannot remove: " + ec.message());
    return Status::Ok();
  }
};

}  // namespace

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
