// The in-memory read-only FileSystem (see memory_fs.h).
#include "reconcilers/base/memory_fs.h"

#include <cstdio>
#include <set>

#include "reconcilers/base/sha256.h"

namespace su {
namespace {

class MemoryFileSystem : public FileSystem {
 public:
  MemoryFileSystem(std::string root, std::map<std::string, std::string> files) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    dirs_.insert("");
    for (auto& [rel, content] : files) {
      std::string h = Sha256Hex(content);
      FileStamp st;
      st.device = 0x5eed;
      st.inode = std::stoull(h.substr(0, 15), nullptr, 16);
      st.size = content.size();
      files_[rel] = {std::move(content), st};
      for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
        dirs_.insert(rel.substr(0, slash));
      }
    }
  }

  Result<std::string> ReadFile(const std::string& path) override {
    std::string rel;
    if (!Rel(path, &rel)) return Status::Error(Code::kNotFound, path + ": no such file");
    auto it = files_.find(rel);
    if (it == files_.end()) {
      if (dirs_.count(rel)) return Status::Invalid(path + ": is a directory; expected a regular file");
      return Status::Error(Code::kNotFound, path + ": no such file");
    }
    return it->second.content;
  }
  Status WriteFileAtomic(const std::string& path, const std::string&) override {
    return Status::Error(Code::kFailed, path + ": read-only (migration files from " + root_ + ")");
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    std::string rel;
    if (!Rel(dir, &rel) || !dirs_.count(rel)) return Status::Error(Code::kNotFound, dir + ": no such folder");
    const std::string prefix = rel.empty() ? "" : rel + "/";
    std::set<std::string> names;
    for (const auto& [p, f] : files_) {
      if (p.compare(0, prefix.size(), prefix) != 0) continue;
      std::string rest = p.substr(prefix.size());
      names.insert(rest.substr(0, rest.find('/')));
    }
    return std::vector<std::string>(names.begin(), names.end());
  }
  bool Exists(const std::string& path) override {
    std::string rel;
    return Rel(path, &rel) && (files_.count(rel) || dirs_.count(rel));
  }
  bool IsDir(const std::string& path) override {
    std::string rel;
    return Rel(path, &rel) && dirs_.count(rel);
  }
  Status MakeDirs(const std::string& path) override {
    return Status::Error(Code::kFailed, path + ": read-only (migration files from " + root_ + ")");
  }
  Status Remove(const std::string& path) override {
    return Status::Error(Code::kFailed, path + ": read-only (migration files from " + root_ + ")");
  }
  Result<FileStamp> Stat(const std::string& path) override {
    std::string rel;
    if (!Rel(path, &rel)) return Status::Error(Code::kNotFound, path + ": no such file");
    auto it = files_.find(rel);
    if (it == files_.end()) return Status::Error(Code::kNotFound, path + ": no such file");
    return it->second.stamp;
  }

 private:
  // path relative to root_ ("" for the root itself), with "./" and duplicate slashes removed.
  bool Rel(const std::string& path, std::string* rel) const {
    if (path.compare(0, root_.size(), root_) != 0) return false;
    std::string rest = path.substr(root_.size());
    if (!rest.empty() && rest[0] != '/') return false;
    std::string out;
    size_t i = 0;
    while (i <= rest.size()) {
      size_t j = rest.find('/', i);
      if (j == std::string::npos) j = rest.size();
      std::string part = rest.substr(i, j - i);
      if (part == "..") return false;
      if (!part.empty() && part != ".") out += (out.empty() ? "" : "/") + part;
      i = j + 1;
    }
    *rel = out;
    return true;
  }

  struct File {
    std::string content;
    FileStamp stamp;
  };
  std::string root_;
  std::map<std::string, File> files_;
  std::set<std::string> dirs_;
};

}  // namespace

std::unique_ptr<FileSystem> NewMemoryFileSystem(std::string root, std::map<std::string, std::string> files) {
  return std::make_unique<MemoryFileSystem>(std::move(root), std::move(files));
}

}  // namespace su
