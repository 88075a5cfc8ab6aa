// TempDir: a fresh directory under /tmp, removed (recursively) when the object dies.
#pragma once

#include <string>

namespace su::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes content to path()/rel (creating parent dirs) and returns the full path.
  std::string Write(const std::string& rel, const std::string& content) const;
  std::string Path(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

}  // namespace su::testing
