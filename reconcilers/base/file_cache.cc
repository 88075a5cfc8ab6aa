// MigrationFileCache (see file_cache.h).
#include "reconcilers/base/file_cache.h"

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

MigrationFileCache* SharedMigrationFileCache() {
  static MigrationFileCache cache;
  return &cache;
}

}  // namespace su
