// MigrationFileCache (see file_cache.h).
#include "reconcilers/base/file_cache.h"

#include <charconv>
#include <cstdio>
#include <string_view>

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
      ++changes_;
    }
  }
  return std::shared_ptr<const MigrationText>(std::move(text));
}

Result<std::shared_ptr<const MigrationText>> MigrationFileCache::Text(FileSystem* fs, const std::string& path) {
  LoadDeferred(fs);
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
  LoadDeferred(fs);
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
  saved_.clear();
  deferred_.clear();
}

void MigrationFileCache::LoadChecksumsOnFirstUse(FileSystem* fs, const std::string& file) {
  std::lock_guard<std::mutex> l(mu_);
  deferred_[fs] = file;
}

void MigrationFileCache::LoadDeferred(FileSystem* fs) {
  std::string file;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = deferred_.find(fs);
    if (it == deferred_.end()) return;
    file = std::move(it->second);
    deferred_.erase(it);
  }
  LoadChecksums(fs, file);
}

// One entry per line: "v1 <checksum> <device> <inode> <size> <mtime_ns> <ctime_ns> <verified
// unix ms> <path>" (the path last: it may hold spaces; paths with a newline are not saved).
namespace {

// Parses one unsigned/signed decimal field followed by a space at s[pos]; advances pos past it.
template <typename T>
bool TakeNumber(std::string_view s, size_t& pos, T& out) {
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), out);
  if (ec != std::errc() || end == s.data() + pos || end == s.data() + s.size() || *end != ' ') return false;
  pos = static_cast<size_t>(end - s.data()) + 1;
  return true;
}

bool IsHexDigest(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

void MigrationFileCache::LoadChecksums(FileSystem* fs, const std::string& file) {
  auto text = fs->ReadFile(file);
  if (!text.ok()) return;
  const auto now_wall = std::chrono::system_clock::now();
  const auto now_steady = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(mu_);
  std::string_view all(*text);
  entries_.reserve(entries_.size() + all.size() / 128);  // a line is ~150 bytes
  size_t pos = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string_view::npos) nl = all.size();
    std::string_view line = all.substr(pos, nl - pos);
    pos = nl + 1;
    // Parsed by hand (no sscanf, no copy of the line): 5000 lines are read on every apply.
    if (line.size() < 3 + 64 + 1 || line.substr(0, 3) != "v1 " || line[3 + 64] != ' ') continue;
    std::string_view checksum = line.substr(3, 64);
    if (!IsHexDigest(checksum)) continue;
    size_t at = 3 + 64 + 1;
    unsigned long long dev = 0, ino = 0, size = 0;
    long long mtime = 0, ctime = 0, verified_ms = 0;
    if (!TakeNumber(line, at, dev) || !TakeNumber(line, at, ino) || !TakeNumber(line, at, size) ||
        !TakeNumber(line, at, mtime) || !TakeNumber(line, at, ctime) || !TakeNumber(line, at, verified_ms) ||
        at >= line.size()) {
      continue;
    }
    Entry e;
    e.stamp = FileStamp{dev, ino, size, mtime, ctime};
    e.checksum = std::string(checksum);
    auto age = now_wall - std::chrono::system_clock::time_point(std::chrono::milliseconds(verified_ms));
    if (age < std::chrono::steady_clock::duration::zero()) continue;  // from the future: distrust it
    e.verified = now_steady - std::chrono::duration_cast<std::chrono::steady_clock::duration>(age);
    Key key{fs, std::string(line.substr(at))};
    entries_.try_emplace(std::move(key), std::move(e));
  }
  saved_[fs] = Saved{file, changes_};
}

Status MigrationFileCache::SaveChecksums(FileSystem* fs, const std::string& file) {
  {
    // Nothing learnt since this file was loaded (a no-op apply): the file on disk is already right.
    std::lock_guard<std::mutex> l(mu_);
    auto it = saved_.find(fs);
    if (it != saved_.end() && it->second.file == file && it->second.changes == changes_) return Status::Ok();
    // Deferred and never used (every resource's observation came from the observation cache).
    auto d = deferred_.find(fs);
    if (d != deferred_.end() && d->second == file) return Status::Ok();
  }
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
  SU_RETURN_IF_ERROR(fs->WriteFileAtomic(file, out));
  std::lock_guard<std::mutex> l(mu_);
  saved_[fs] = Saved{file, changes_};
  return Status::Ok();
}

MigrationFileCache* SharedMigrationFileCache() {
  static MigrationFileCache cache;
  return &cache;
}

}  // namespace su
