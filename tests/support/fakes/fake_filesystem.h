// FakeFileSystem: an in-memory FileSystem (files and directories by exact path), for tests that
// must not touch the disk. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "reconcilers/base/fs.h"

namespace su::testing {

class FakeFileSystem : public FileSystem {
 public:
  Result<std::string> ReadFile(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return Status::Error(Code::kNotFound, path + ": no such file");
    return it->second;
  }
  Status WriteFileAtomic(const std::string& path, const std::string& content) override {
    std::lock_guard<std::mutex> l(mu_);
    files_[path] = content;
    return Status::Ok();
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    std::lock_guard<std::mutex> l(mu_);
    if (!dirs_.count(dir)) return Status::Error(Code::kNotFound, dir + ": no such directory");
    std::vector<std::string> out;
    for (const auto& [p, _] : files_) {
      if (DirName(p) == dir) out.push_back(BaseName(p));
    }
    return out;
  }
  bool Exists(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    return files_.count(path) || dirs_.count(path);
  }
  bool IsDir(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    return dirs_.count(path) > 0;
  }
  Status MakeDirs(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    dirs_.insert(path);
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    files_.erase(path);
    dirs_.erase(path);
    return Status::Ok();
  }
  std::set<std::string> dirs() {
    std::lock_guard<std::mutex> l(mu_);
    return dirs_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> files_;
  std::set<std::string> dirs_;
};

}  // namespace su::testing
