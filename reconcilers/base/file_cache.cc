// MigrationFileCache (see file_cache.h).
#include "reconcilers/base/file_cache.h"

#include <cstdio>

#include "reconcilers/base/sha256.h"
#include "reconcilers/base/text_check.h"

namespace su {

Result<std::shared_ptr<const MigrationText>> MigrationFileCache::Load(FileSystem* fs, const std::string& path,
                                                                      const Result<FileStamp>& stamp) {
  SU_ASSIGN_OR_RETURN(std::string content, fs->ReadFile(path));
  SU_RETURN_IF_ERROR(CheckMigrationText(path, content));
  auto text = std::make_shared<MigrationText>();
  text->checksum = Sha256Hex(content);
  text->content = std::move(content);
  if (stamp.ok()) {
    auto after = fs->Stat(path);
    if (after.ok() && *after == *stamp) {
      std::lock_guard<std::mutex> l(mu_);
      Entry& e = entries_[Key{fs, path}];
      e.stamp = *stamp;
      e.checksum = text->checksum;
      e.text = text;
      e.verified = std::chrono::steady_clock::now();
    }
  }
  return std::shared_ptr<const MigrationText>(std::move(text));
}

Result<std::shared_ptr<const MigrationText>> MigrationFileCache::Text(FileSystem* fs, const std::string& path) {
  auto stamp = fs->Stat(path);
  if (stamp.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = entries_.find(Key{fs, path});
    if (it != entries_.end() && it->second.stamp == *stamp) {
      if (auto held = it->second.text.lock()) return held;
    }
  }
  return Load(fs, path, stamp);
}

Result<std::string> MigrationFileCache::Checksum(FileSystem* fs, const std::string& path) {
  auto stamp = fs->Stat(path);
  if (stamp.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = entries_.find(Key{fs, path});
    if (it != entries_.end() && it->second.stamp == *stamp &&
        std::chrono::steady_clock::now() - it->second.verified < full_check_every_) {
      return it->second.checksum;
    }
  }
  SU_ASSIGN_OR_RETURN(auto text, Load(fs, path, stamp));
  return text->checksum;
}

void MigrationFileCache::Clear() {
  std::lock_guard<std::mutex> l(mu_);
  entries_.clear();
}

// One entry per line: "v1 <checksum> <device> <inode> <size> <mtime_ns> <ctime_ns> <verified
// unix ms> <path>" (the path last: it may hold spaces; paths with a newline are not saved).
void MigrationFileCache::LoadChecksums(FileSystem* fs, const std::string& file) {
  auto text = fs->ReadFile(file);
  if (!text.ok()) return;
  const auto now_wall = std::chrono::system_clock::now();
  const auto now_steady = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(mu_);
  size_t pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) nl = text->size();
    std::string line = text->substr(pos, nl - pos);
    pos = nl + 1;
    char checksum[65] = {0};
    unsigned long long dev = 0, ino = 0, size = 0;
    long long mtime = 0, ctime = 0, verified_ms = 0;
    int used = 0;
    if (std::sscanf(line.c_str(), "v1 %64s %llu %llu %llu %lld %lld %lld %n", checksum, &dev, &ino, &size, &mtime,
                    &ctime, &verified_ms, &used) != 7 ||
        used <= 0 || static_cast<size_t>(used) >= line.size() || std::string(checksum).size() != 64) {
      continue;
    }
    Entry e;
    e.stamp = FileStamp{dev, ino, size, mtime, ctime};
    e.checksum = checksum;
    auto age = now_wall - std::chrono::system_clock::time_point(std::chrono::milliseconds(verified_ms));
    if (age < std::chrono::steady_clock::duration::zero()) continue;  // from the future: distrust it
    e.verified = now_steady - std::chrono::duration_cast<std::chrono::steady_clock::duration>(age);
    Key key{fs, line.substr(static_cast<size_t>(used))};
    auto it = entries_.find(key);
    if (it == entries_.end()) entries_.emplace(std::move(key), std::move(e));
  }
}

Status MigrationFileCache::SaveChecksums(FileSystem* fs, const std::string& file) {
  const auto now_wall = std::chrono::system_clock::now();
  const auto now_steady = std::chrono::steady_clock::now();
  std::string out;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [key, e] : entries_) {
      if (key.first != fs || key.second.find('\n') != std::string::npos) continue;
      auto verified = now_wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(now_steady - e.verified);
      long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(verified.time_since_epoch()).count();
      char head[256];
      std::snprintf(head, sizeof head, "v1 %s %llu %llu %llu %lld %lld %lld ", e.checksum.c_str(),
                    static_cast<unsigned long long>(e.stamp.device), static_cast<unsigned long long>(e.stamp.inode),
                    static_cast<unsigned long long>(e.stamp.size), static_cast<long long>(e.stamp.mtime_ns),
                    static_cast<long long>(e.stamp.ctime_ns), ms);
      out += head + key.second + "\n";
    }
  }
  return fs->WriteFileAtomic(file, out);
}

MigrationFileCache* SharedMigrationFileCache() {
  static MigrationFileCache cache;
  return &cache;
}

}  // namespace su
